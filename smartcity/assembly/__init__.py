"""Settings → every room's config and objects: the one place where settings meet the rooms."""
