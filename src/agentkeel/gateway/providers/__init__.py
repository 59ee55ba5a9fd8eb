"""Provider modules: each translates the OpenAI chat schema to one backend and back."""
