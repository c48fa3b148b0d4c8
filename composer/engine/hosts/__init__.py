"""The host interface (``base``), the real host (``real``) and the fake one (``fake``)."""
