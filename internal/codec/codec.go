// Package codec encrypts what aicc's workflows and activities pass through Temporal: inputs, results, signals,
// updates, queries, and failure messages. Customer text and Page IDs are in those payloads, and a Temporal
// cluster (its database, its Web UI, an operator) sees them only as ciphertext. Each payload is sealed with
// AES-256-GCM under a key derived from the master key, and carries that key's ID, so that payloads written
// before a master-key rotation still open while the previous key is configured.
package codec

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"google.golang.org/protobuf/proto"

	"github.com/aiccfb/aicc"
)

// Metadata of an encrypted payload. A payload without this encoding (one written before the codec was
// configured) is passed on as it is, so that running workflows and recorded histories still replay.
const (
	Encoding         = "binary/aicc-encrypted"
	metadataEncoding = "encoding"
	metadataKeyID    = "aicc-key-id"
	nonceSize        = 12
)

// Codec is a converter.PayloadCodec that encrypts payloads under the current master key's payload key and
// decrypts them under any configured one.
type Codec struct {
	current string
	keys    map[string]cipher.AEAD // by master key ID
}

var _ converter.PayloadCodec = (*Codec)(nil)

// New returns a codec for the master keys, the current one first (as aicc.NewKeyring takes them).
func New(masterKeys ...[]byte) (*Codec, error) {
	if len(masterKeys) == 0 {
		return nil, errors.New("codec: no master key")
	}
	c := &Codec{keys: map[string]cipher.AEAD{}}
	for i, key := range masterKeys {
		if len(key) != aicc.MasterKeySize {
			return nil, fmt.Errorf("codec: master key %d has %d bytes, want %d", i+1, len(key), aicc.MasterKeySize)
		}
		m := hmac.New(sha256.New, key)
		m.Write([]byte("aicc temporal payload codec"))
		block, err := aes.NewCipher(m.Sum(nil))
		if err != nil {
			return nil, fmt.Errorf("codec: %w", err)
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, fmt.Errorf("codec: %w", err)
		}
		id := aicc.KeyID(key)
		if i == 0 {
			c.current = id
		}
		c.keys[id] = aead
	}
	return c, nil
}

// Encode encrypts each payload, metadata and data, into a new payload that says only how it is encoded.
func (c *Codec) Encode(payloads []*commonpb.Payload) ([]*commonpb.Payload, error) {
	out := make([]*commonpb.Payload, len(payloads))
	aead := c.keys[c.current]
	for i, p := range payloads {
		plain, err := proto.Marshal(p)
		if err != nil {
			return nil, fmt.Errorf("codec: %w", err)
		}
		nonce := aicc.RandomBytes(nonceSize)
		out[i] = &commonpb.Payload{
			Metadata: map[string][]byte{metadataEncoding: []byte(Encoding), metadataKeyID: []byte(c.current)},
			Data:     aead.Seal(nonce, nonce, plain, []byte(c.current)),
		}
	}
	return out, nil
}

// Decode decrypts each payload this codec encoded; any other payload is returned as it is.
func (c *Codec) Decode(payloads []*commonpb.Payload) ([]*commonpb.Payload, error) {
	out := make([]*commonpb.Payload, len(payloads))
	for i, p := range payloads {
		if string(p.GetMetadata()[metadataEncoding]) != Encoding {
			out[i] = p
			continue
		}
		id := string(p.GetMetadata()[metadataKeyID])
		aead, ok := c.keys[id]
		if !ok {
			return nil, fmt.Errorf("codec: a payload is encrypted under master key %q, which is not configured", id)
		}
		if len(p.GetData()) < nonceSize {
			return nil, errors.New("codec: an encrypted payload is truncated")
		}
		plain, err := aead.Open(nil, p.GetData()[:nonceSize], p.GetData()[nonceSize:], []byte(id))
		if err != nil {
			return nil, errors.New("codec: an encrypted payload does not open: wrong key or altered data")
		}
		decoded := &commonpb.Payload{}
		if err := proto.Unmarshal(plain, decoded); err != nil {
			return nil, fmt.Errorf("codec: %w", err)
		}
		out[i] = decoded
	}
	return out, nil
}

// DataConverter returns Temporal's default data converter with c encrypting its payloads.
func (c *Codec) DataConverter() converter.DataConverter {
	return converter.NewCodecDataConverter(converter.GetDefaultDataConverter(), c)
}

// FailureConverter returns a failure converter that moves failure messages and stack traces into payloads,
// which c encrypts: an error's text may quote what it failed on.
func (c *Codec) FailureConverter() converter.FailureConverter {
	return temporal.NewDefaultFailureConverter(temporal.DefaultFailureConverterOptions{
		DataConverter: c.DataConverter(), EncodeCommonAttributes: true,
	})
}
