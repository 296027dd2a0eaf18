"""The parts of ``manage.py bench``, one per figure set; each reads its own flags."""
