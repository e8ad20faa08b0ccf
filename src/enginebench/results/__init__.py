"""The results document: its schema and its store on disk."""
