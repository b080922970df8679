"""Pure data models shared by every layer: vocabulary, incident spec/status, evidence,
findings, diagnosis and the replay case format. Nothing here does I/O."""
