from kapstone.accounts.roles import Role


def role(request):
    user = getattr(request, "user", None)
    return {"Role": Role, "current_role": getattr(user, "role", None) if user and user.is_authenticated else None}
