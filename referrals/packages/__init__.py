"""Evidence packages: a BagIt bag streamed as a tar through age to disk, and its verification."""
