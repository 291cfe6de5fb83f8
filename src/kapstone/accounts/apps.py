from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "kapstone.accounts"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from django.contrib.auth.signals import user_login_failed

        from kapstone.accounts import signals

        user_login_failed.connect(signals.record_failed_sign_in, dispatch_uid="kapstone-record-failed-sign-in")
