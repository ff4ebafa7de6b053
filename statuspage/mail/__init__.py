"""Email for public subscribers: building messages (``messages``), sending them over SMTP or
into ``.eml`` files (``smtp``), and the worker's delivery loop (``loop``)."""

__all__: list[str] = []
