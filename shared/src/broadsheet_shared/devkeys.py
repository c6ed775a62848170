"""Development-only signing keys, so that `make run` works with no configuration.

They are public (they are in the repository): settings refuse them when ENVIRONMENT=prod.
"""

DEV_JWT_PRIVATE_KEY = """-----BEGIN PRIVATE KEY-----
MC4CAQAwBQYDK2VwBCIEIPndnZagqlYYRMpCQMdmYiEmp7ibNc27cTLAipxIDEkq
-----END PRIVATE KEY-----
"""

DEV_JWT_PUBLIC_KEY = """-----BEGIN PUBLIC KEY-----
MCowBQYDK2VwAyEA3D30xU5og9gd5sGq9e4BxFpR/8UqnsVIUUliR3OyNS0=
-----END PUBLIC KEY-----
"""

# HMAC secret for signed links (unsubscribe, confirm) and edit tokens in dev.
DEV_SIGNING_SECRET = "dev-only-signing-secret-change-me-in-prod"  # noqa: S105

# HMAC key of the comments service's avatar seeds (``broadsheet_comments.avatars``).
DEV_AVATAR_KEY = "dev-only-avatar-key-change-me-in-prod-please"

# HMAC key of the address digests in events and links
# (``broadsheet_shared.addresses.AddressDigest``); comments and notifications must share it.
DEV_ADDRESS_DIGEST_KEY = "dev-only-address-digest-key-change-me-in-prod"

# HMAC key of the my-data grants (``broadsheet_shared.grants.DataGrants``); comments and
# notifications must share it.
DEV_DATA_GRANT_KEY = "dev-only-data-grant-key-change-me-in-prod-please"
