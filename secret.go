package aicc

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"time"
)

// MasterKeySize is the size of an AES-256 master key.
const MasterKeySize = 32

// SecretKind names a kind of stored secret.
type SecretKind string

// Channel secret kinds. Page tokens are sealed with the page (SealedSecret on the page row).
const (
	SecretAppSecret   SecretKind = "app_secret"
	SecretVerifyToken SecretKind = "verify_token"
)

// The other kinds of stored secret, which master-key rotation re-seals with the channel secrets.
const (
	// SecretPreviousAppSecret is the app secret a rotation replaced, accepted until its overlap window ends.
	SecretPreviousAppSecret SecretKind = "previous_app_secret"
	SecretPageToken         SecretKind = "page_token"      // a Page's access token, on its page row
	SecretVersionValue      SecretKind = "secret_version"  // a SecretVersion waiting for its rotation
	SecretFingerprintKey    SecretKind = "fingerprint_key" // the key of Keyring.Fingerprint, a system key
)

// SecretKinds are every kind of stored secret, in the order master-key rotation re-seals them.
var SecretKinds = []SecretKind{
	SecretAppSecret, SecretPreviousAppSecret, SecretVerifyToken, SecretPageToken, SecretVersionValue, SecretFingerprintKey,
}

// SecretInfo is all the API ever shows of a secret.
type SecretInfo struct {
	Set         bool
	Fingerprint string // HMAC-SHA256 of the value under the fingerprint key, first 8 bytes in hex
	UpdatedAt   time.Time
}

// SealedSecret is a secret encrypted with AES-256-GCM under the master key named KeyID. Ciphertext is the
// 12-byte nonce followed by the sealed value; the additional data binds it to its owner (see Keyring.Seal).
type SealedSecret struct {
	KeyID       string
	Ciphertext  []byte
	Fingerprint string
	UpdatedAt   time.Time
}

// Info returns what may be shown of the secret.
func (s SealedSecret) Info() SecretInfo {
	return SecretInfo{Set: len(s.Ciphertext) > 0, Fingerprint: s.Fingerprint, UpdatedAt: s.UpdatedAt}
}

// Keyring seals and opens secrets. The first key seals; every key opens what it sealed, so that the master
// key can rotate: add the new key first, and values sealed under the old one stay readable until Reseal has
// moved them to the new one.
//
// Fingerprints are made with a key of their own, so that they survive a master-key rotation: NewKeyring
// derives it from the current master key, and a process replaces it with the one stored in the database
// (WithFingerprintKey), which SealFingerprintKey made on the first start.
type Keyring struct {
	current        string
	ids            []string // current first
	keys           map[string]masterKey
	fingerprintKey []byte
}

// masterKey is one master key as the keyring uses it: its cipher and the fingerprint key derived from it.
type masterKey struct {
	aead           cipher.AEAD
	fingerprintKey []byte
}

// NewKeyring builds a keyring from 32-byte master keys, the current one first.
func NewKeyring(keys ...[]byte) (*Keyring, error) {
	if len(keys) == 0 {
		return nil, errors.New("keyring: no master key")
	}
	k := &Keyring{keys: map[string]masterKey{}}
	for i, key := range keys {
		if len(key) != MasterKeySize {
			return nil, fmt.Errorf("keyring: master key %d has %d bytes, want %d", i+1, len(key), MasterKeySize)
		}
		block, err := aes.NewCipher(key)
		if err != nil {
			return nil, fmt.Errorf("keyring: %w", err)
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, fmt.Errorf("keyring: %w", err)
		}
		id := KeyID(key)
		if _, ok := k.keys[id]; ok {
			return nil, fmt.Errorf("keyring: master key %d is given twice (key ID %s)", i+1, id)
		}
		k.keys[id] = masterKey{aead: aead, fingerprintKey: derive(key, "aicc fingerprint")}
		k.ids = append(k.ids, id)
	}
	k.current = k.ids[0]
	k.fingerprintKey = k.keys[k.current].fingerprintKey
	return k, nil
}

// KeyIDs returns the IDs of the keyring's master keys, the current one first.
func (k *Keyring) KeyIDs() []string { return append([]string(nil), k.ids...) }

// KeyID names a master key without revealing it: the first 4 bytes of a hash derived from it, in hex.
func KeyID(key []byte) string { return hex.EncodeToString(derive(key, "aicc key id")[:4]) }

func derive(key []byte, purpose string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(purpose))
	return m.Sum(nil)
}

// Seal encrypts value under the current master key. owner (for example "channel/ch_x/app_secret") is bound
// as additional data, so a sealed value copied onto another row does not open there.
func (k *Keyring) Seal(value, owner string, now time.Time) SealedSecret {
	nonce := RandomBytes(12)
	ct := k.keys[k.current].aead.Seal(nonce, nonce, []byte(value), []byte(owner))
	return SealedSecret{KeyID: k.current, Ciphertext: ct, Fingerprint: k.Fingerprint(value), UpdatedAt: now}
}

// Open decrypts a value sealed for owner. The error never contains the value.
func (k *Keyring) Open(s SealedSecret, owner string) (string, error) {
	key, ok := k.keys[s.KeyID]
	if !ok {
		return "", Errorf(EINTERNAL, "secret of %s is sealed under unknown master key %q", owner, s.KeyID)
	}
	if len(s.Ciphertext) < 12 {
		return "", Errorf(EINTERNAL, "secret of %s is truncated", owner)
	}
	pt, err := key.aead.Open(nil, s.Ciphertext[:12], s.Ciphertext[12:], []byte(owner))
	if err != nil {
		return "", Errorf(EINTERNAL, "secret of %s does not open: wrong key or owner", owner)
	}
	return string(pt), nil
}

// Reseal returns s sealed under the current master key, with the same owner, value, fingerprint and update
// time; a secret sealed under the current key already is returned as it is. The error never contains the
// value.
func (k *Keyring) Reseal(s SealedSecret, owner string) (SealedSecret, error) {
	if s.KeyID == k.current {
		return s, nil
	}
	value, err := k.Open(s, owner)
	if err != nil {
		return SealedSecret{}, err
	}
	nonce := RandomBytes(12)
	s.KeyID, s.Ciphertext = k.current, k.keys[k.current].aead.Seal(nonce, nonce, []byte(value), []byte(owner))
	return s, nil
}

// FingerprintKeyOwner is the additional data the stored fingerprint key is sealed with.
const FingerprintKeyOwner = "system/" + string(SecretFingerprintKey)

// SealFingerprintKey returns the fingerprint key derived from the master key keyID, sealed under the current
// master key, to be stored once as the system's fingerprint key. keyID names the master key that made the
// fingerprints stored so far (before the fingerprint key was stored, each was derived from the master key
// that sealed the secret), so that they stay valid. The result has no fingerprint of its own.
func (k *Keyring) SealFingerprintKey(keyID string, now time.Time) (SealedSecret, error) {
	key, ok := k.keys[keyID]
	if !ok {
		return SealedSecret{}, Errorf(EINTERNAL, "fingerprint key: unknown master key %q", keyID)
	}
	s := k.Seal(string(key.fingerprintKey), FingerprintKeyOwner, now)
	s.Fingerprint = ""
	return s, nil
}

// WithFingerprintKey returns a copy of the keyring that makes fingerprints with the stored fingerprint key s
// (see SealFingerprintKey).
func (k *Keyring) WithFingerprintKey(s SealedSecret) (*Keyring, error) {
	key, err := k.Open(s, FingerprintKeyOwner)
	if err != nil {
		return nil, err
	}
	if len(key) != sha256.Size {
		return nil, Errorf(EINTERNAL, "fingerprint key has %d bytes, want %d", len(key), sha256.Size)
	}
	c := *k
	c.fingerprintKey = []byte(key)
	return &c, nil
}

// Fingerprint identifies a secret value without revealing it, so an administrator can tell whether two
// channels hold the same secret or whether a value changed.
func (k *Keyring) Fingerprint(value string) string {
	m := hmac.New(sha256.New, k.fingerprintKey)
	m.Write([]byte(value))
	return hex.EncodeToString(m.Sum(nil)[:8])
}

// ChannelSecretOwner is the additional data a channel secret is sealed with.
func ChannelSecretOwner(channelID string, kind SecretKind) string {
	return "channel/" + channelID + "/" + string(kind)
}

// PageTokenOwner is the additional data a Page access token is sealed with.
func PageTokenOwner(pageID string) string { return "page/" + pageID + "/token" }

// SealedCount is how many stored secrets of one kind are sealed under one master key.
type SealedCount struct {
	KeyID string
	Kind  SecretKind
	Count int
}

// ResealBatch asks KeyStore.ResealSecrets for one batch: up to Limit secrets not sealed under KeyID, after
// the row After ("" for the first batch), each replaced by what Reseal returns for it.
type ResealBatch struct {
	KeyID  string // the current master key
	After  string // the row ID (channel, Page or system key) the previous batch ended at
	Limit  int
	Reseal func(s SealedSecret, owner string) (SealedSecret, error)
}

// KeyStore keeps the system's own keys (the fingerprint key) and moves stored secrets to a new master key.
type KeyStore interface {
	// SystemKey returns the stored system key of the given kind; ENOTFOUND before it is added.
	SystemKey(ctx context.Context, kind SecretKind) (SealedSecret, error)
	// AddSystemKey stores s as the system key of the given kind unless one is stored already, and returns
	// the one stored, so that processes starting together agree on it.
	AddSystemKey(ctx context.Context, kind SecretKind, s SealedSecret) (SealedSecret, error)
	// CountSealed counts the stored secrets by master key and kind.
	CountSealed(ctx context.Context) ([]SealedCount, error)
	// ResealSecrets re-seals one batch of the secrets of one kind in one transaction, in row ID order. A
	// row's ciphertext is replaced only if it is still the one read (compare-and-set), so a secret changed
	// meanwhile is left to a later run; the value's fingerprint and update time stay. It returns the row ID
	// to resume after, "" when the kind is done, and how many rows it replaced.
	ResealSecrets(ctx context.Context, kind SecretKind, b ResealBatch) (next string, n int, err error)
}
