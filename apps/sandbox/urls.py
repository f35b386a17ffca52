app_name = "sandbox"

# Filled in by the sandbox emulator (one include per emulated provider).
urlpatterns: list = []
