from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "kapstone.accounts"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from django.contrib.auth.signals import user_logged_in, user_login_failed

        from kapstone.accounts import identity, signals

        user_login_failed.connect(signals.record_failed_sign_in, dispatch_uid="kapstone-record-failed-sign-in")
        user_logged_in.connect(identity.mark_confirmed_at_sign_in, dispatch_uid="kapstone-identity-confirmed")
        user_logged_in.connect(signals.note_sign_in_time, dispatch_uid="kapstone-note-sign-in-time")
