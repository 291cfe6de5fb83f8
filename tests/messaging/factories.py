from kapstone.messaging import services


def alice_thread(cast, body="How should I prepare for Tuesday?"):
    return services.thread_start(actor=cast.alice_user, patient=cast.alice, subject="Preparing", body=body).thread
