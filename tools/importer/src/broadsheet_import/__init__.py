"""Import a WordPress export (WXR) into Broadsheet: read, map, convert, write through a Platform."""
