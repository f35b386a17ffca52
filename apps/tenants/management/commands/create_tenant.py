from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.core.validators import validate_email, validate_slug

from apps.tenants.services import tenant_setup


class Command(BaseCommand):
    help = (
        "Create or update a tenant and its owner login. Safe to repeat. Without "
        "--password a new user gets a generated password (printed); an existing user keeps theirs."
    )

    def add_arguments(self, parser):
        parser.add_argument("slug")
        parser.add_argument("--name", required=True)
        parser.add_argument("--admin-email", required=True)
        parser.add_argument("--password")
        parser.add_argument(
            "--superuser",
            action="store_true",
            help="Also give the login staff access to the Django admin.",
        )

    def handle(self, *args, slug, name, admin_email, password, superuser, **options):
        try:
            validate_slug(slug)
            validate_email(admin_email)
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from exc
        result = tenant_setup(
            slug=slug, name=name, admin_email=admin_email, password=password, superuser=superuser
        )
        verb = "Created" if result.tenant_created else "Updated"
        self.stdout.write(
            self.style.SUCCESS(f"{verb} tenant {result.tenant.slug!r} ({result.tenant.name})")
        )
        who = "new user" if result.user_created else "existing user"
        self.stdout.write(f"Owner login: {admin_email} ({who})")
        if result.password and not password:
            self.stdout.write(f"Generated password: {result.password}")
        elif password:
            self.stdout.write("Password: set as given")
        else:
            self.stdout.write("Password: unchanged")
