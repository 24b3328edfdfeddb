"""What starts runs by itself: schedules, webhooks, mailboxes — and deferrable runs.

Above the runtime (imports point down only): ``store`` keeps fires at most once per key,
``fire`` starts a trigger's run, ``schedule``/``scheduler`` fire cron slots, ``webhook`` checks
signed deliveries, ``defer`` picks a run's start in a price / carbon signal.
"""
