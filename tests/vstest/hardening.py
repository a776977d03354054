"""Helpers of the hardening tests: the encodings a leaked value would show up in, and turning on
encryption at rest for a store root."""
import base64
import os
import secrets


def needles(value):
    """Byte strings any encoding of value that we know of would contain: raw, hex (both cases)
    and base64 at each of the three alignments."""
    out = {value, value.hex().encode(), value.hex().upper().encode()}
    for shift in range(3):
        enc = base64.b64encode(b"\0" * shift + value)
        # Drop the characters that depend on the neighbouring bytes.
        out.add(enc[4:-4])
    return out


def enable_encryption(work, root):
    """Writes a fresh 32-byte key file (0600) in work and ROOT/etc/secret.conf pointing at it."""
    key = os.path.join(work, "key-" + os.path.basename(root))
    with open(os.open(key, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as f:
        f.write(secrets.token_bytes(32))
    os.makedirs(os.path.join(root, "etc"), exist_ok=True)
    with open(os.path.join(root, "etc", "secret.conf"), "w") as f:
        f.write('encrypt_data = 1\nsecrets_encryption_key = "%s"\n' % key)
    return key
