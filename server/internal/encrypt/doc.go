// Package encrypt is AuthProxy's application-level encryption (ALE). It is the
// only package that touches crypto/aes: every secret column elsewhere stores the
// string returned by [Seal] and reads it back with [Open].
//
// # Envelope
//
// A stored value is the self-describing JSON envelope
//
//	{"id":"<key version id>","d":"<std base64 of nonce || ciphertext || tag>"}
//
// where the ciphertext is AES-256-GCM with a fresh random 96-bit nonce and the
// additional authenticated data binds the value to its table, column and row
// (see [AAD]) and to the key version id. A value copied into another row or
// column, a flipped byte, or a value sealed with other key material fails with
// [ErrNotAuthentic]; an id the [KeyLookup] does not know fails with
// [ErrUnknownKey]; anything that is not a well-formed envelope fails with
// [ErrMalformed]. No error ever carries plaintext or key material.
//
// # Keys
//
// Key versions ([KeyVersion]) are 32-byte AES-256 keys named by an id such as
// "kv_…". Their material comes from a [Source] (env var, file, AWS Secrets
// Manager) or is generated with [GenerateKeyVersion] and stored wrapped by the
// parent key ([Wrap], [Unwrap]). A [Keyring] caches decryption keys in memory
// with a bounded lifetime in front of whatever resolves ids to material.
//
// # Columns
//
// Every encrypted column is declared once with [Register], one line per
// column, so that re-encryption can find every value that uses a key.
package encrypt
