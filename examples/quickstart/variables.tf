variable "app_public_key_file" {
  description = "Path (relative to this directory) of the application actor's OpenSSH public key. app.pub has no private half in this repository: generate a pair of your own (see README.md) to sign tokens as the application."
  type        = string
  default     = "app.pub"
}
