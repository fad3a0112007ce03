package aicc

import (
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

// SecretKind names one secret of a channel.
type SecretKind string

// Channel secret kinds. Page tokens are sealed with the page (SealedSecret on the page row).
const (
	SecretAppSecret   SecretKind = "app_secret"
	SecretVerifyToken SecretKind = "verify_token"
)

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
// key can rotate: add the new key first, and values sealed under the old one stay readable.
type Keyring struct {
	current        string
	aeads          map[string]cipher.AEAD
	fingerprintKey []byte
}

// NewKeyring builds a keyring from 32-byte master keys, the current one first.
func NewKeyring(keys ...[]byte) (*Keyring, error) {
	if len(keys) == 0 {
		return nil, errors.New("keyring: no master key")
	}
	k := &Keyring{aeads: map[string]cipher.AEAD{}}
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
		k.aeads[id] = aead
		if i == 0 {
			k.current = id
			k.fingerprintKey = derive(key, "aicc fingerprint")
		}
	}
	return k, nil
}

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
	ct := k.aeads[k.current].Seal(nonce, nonce, []byte(value), []byte(owner))
	return SealedSecret{KeyID: k.current, Ciphertext: ct, Fingerprint: k.Fingerprint(value), UpdatedAt: now}
}

// Open decrypts a value sealed for owner. The error never contains the value.
func (k *Keyring) Open(s SealedSecret, owner string) (string, error) {
	aead, ok := k.aeads[s.KeyID]
	if !ok {
		return "", Errorf(EINTERNAL, "secret of %s is sealed under unknown master key %q", owner, s.KeyID)
	}
	if len(s.Ciphertext) < 12 {
		return "", Errorf(EINTERNAL, "secret of %s is truncated", owner)
	}
	pt, err := aead.Open(nil, s.Ciphertext[:12], s.Ciphertext[12:], []byte(owner))
	if err != nil {
		return "", Errorf(EINTERNAL, "secret of %s does not open: wrong key or owner", owner)
	}
	return string(pt), nil
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
