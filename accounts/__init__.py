"""accounts: who is signed in, and how safely.

Owns: two-factor sign-in (enrol, verify), lockout through django-axes and the client
address it counts, the security audit log (written from django.contrib.auth's and
axes' signals), the security middleware (CSP and Permissions-Policy, the database-fault
page, the staff guard) and the deploy checks for secrets and 2FA.

May import: `articles` models and roles (SecurityEvent, StaffProfile and the groups
still live there) and `ptsdinfo.environment`. Nothing in `articles` or `publicsite`
imports it; Django loads it from settings (middleware, AXES_CLIENT_IP_CALLABLE) and
the project URLs.
"""
