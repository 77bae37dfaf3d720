# A key is imported by its id. Write-only material and the rotation attributes
# (material_wo, material_wo_version, rotation_trigger) are not read back: set them in the
# configuration as they were.
terraform import authproxy_encryption_key.acme_byok key_3kTMd9pQx2LbW7nZ0aVf
