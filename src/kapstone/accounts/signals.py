from kapstone.accounts import services


def record_failed_sign_in(sender, credentials, request=None, **kwargs):
    """Django hands over the credentials with the password already masked; only the username is kept."""
    services.sign_in_failure_record(username=str(credentials.get("username") or ""))
