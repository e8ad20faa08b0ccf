"""OpenVINO (Intel's inference runtime, and OpenVINO GenAI's LLM pipeline): model and op faces."""
