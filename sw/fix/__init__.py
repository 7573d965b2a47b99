"""FIX protocol helpers shared by the tests, the replay and (later) the OMS."""
