"""NCMEC CyberTipline reports: the XML (``xml``, ``checks``), what a case says (``reading``),
the report record and its lifecycle (``models``, ``services``), the API client built on remote
operations (``client``) and a sandbox that answers like the API (``sandbox``)."""
