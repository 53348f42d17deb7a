"""Result storage: put finished files somewhere and hand out URLs that work without auth."""
