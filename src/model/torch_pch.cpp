// Compiled once to produce the shared torch precompiled header.
