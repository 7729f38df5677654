"""The words every feature shares, below all of them: data categories, our legal entities
and their time zones, identifier kinds and their normal forms. Nothing here imports a
feature package."""
