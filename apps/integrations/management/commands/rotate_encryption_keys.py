import time

from django.core.management.base import BaseCommand, CommandError

from apps.integrations.keyrotation import RotationStats, encrypted_models, rotate_model


class Command(BaseCommand):
    help = (
        "Re-encrypt every encrypted column with the newest key in FIELD_ENCRYPTION_KEYS. "
        "Prepend the new key, run this, then remove the old key. Safe to rerun."
    )

    def handle(self, *args, **options):
        started = time.monotonic()
        total = RotationStats()
        for model, names in encrypted_models():
            count = model._base_manager.count()
            label = model._meta.label
            done = 0

            def progress(n, label=label, count=count):
                nonlocal done
                done += n
                self.stdout.write(f"  {label}: {done}/{count} rows", ending="\r")

            stats = rotate_model(model, names, progress)
            total.add(stats)
            self.stdout.write(
                f"{label} ({', '.join(names)}): {stats.rows} rows, rotated {stats.rotated}, "
                f"already current {stats.current}, empty {stats.empty}, "
                f"undecryptable {len(stats.undecryptable)}"
            )
        elapsed = time.monotonic() - started
        self.stdout.write(
            self.style.SUCCESS(
                f"Done in {elapsed:.1f}s: {total.rows} rows, rotated {total.rotated}, "
                f"already current {total.current}, empty {total.empty}, "
                f"undecryptable {len(total.undecryptable)}"
            )
        )
        if total.undecryptable:
            for label, pk, name in total.undecryptable[:20]:
                self.stderr.write(f"  cannot decrypt {label} pk={pk} field={name}")
            raise CommandError(
                "Some values could not be decrypted with any configured key; they were left as they are. "
                "Add the key that encrypted them to FIELD_ENCRYPTION_KEYS and run again."
            )
