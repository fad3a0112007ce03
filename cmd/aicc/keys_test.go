package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/aiccfb/aicc"
	"github.com/aiccfb/aicc/db"
	"github.com/aiccfb/aicc/db/dbtest"
)

// asAICCEnv makes the test binary run as the aicc binary (main) instead of running tests: the master-key
// rotation test starts it as a subprocess and kills it. Building the real binary would take ~40 s here (the
// link of the embedded Temporal server); the test binary holds the same main and is built already.
const asAICCEnv = "AICC_TEST_RUN_AS_AICC"

func TestMain(m *testing.M) {
	if os.Getenv(asAICCEnv) == "1" {
		main()
	}
	os.Exit(m.Run())
}

// The acceptance test of master-key rotation: 5,200 secrets (and the fingerprint key) sealed under key A, of
// every kind (app secrets, previous app secrets and secret versions of rotations under way, verify tokens,
// Page tokens), "aicc keys rotate" to key B killed with SIGKILL mid-way, then run again: every secret is sealed
// under B, opens with B alone to the value stored, and keeps its fingerprint.
func TestKeysRotateKilledMidwayAndResumed(t *testing.T) {
	ctx := context.Background()
	keyA, keyB := aicc.RandomBytes(aicc.MasterKeySize), aicc.RandomBytes(aicc.MasterKeySize)
	idA, idB := aicc.KeyID(keyA), aicc.KeyID(keyB)
	url := dbtest.SQLiteURL(t)
	store, err := db.Open(ctx, url)
	require.NoError(t, err)
	require.NoError(t, store.Migrate(ctx))

	// Before: every process runs with key A alone, and the first start stored the fingerprint key.
	krA, err := loadKeyring(ctx, Config{MasterKey: keyA}, store, time.Now())
	require.NoError(t, err)
	const channels, pages = 1000, 3000 // 2,000 channel secrets and 3,000 Page tokens
	type secret struct {
		kind                   aicc.SecretKind
		id, value, fingerprint string
	}
	var secrets []secret
	start := time.Now()
	tenant := &aicc.Tenant{Name: "rotation"}
	require.NoError(t, store.CreateTenant(ctx, tenant))
	var chIDs []string
	for i := range channels {
		ch := new(aicc.DefaultChannel())
		ch.ID, ch.TenantID, ch.Name, ch.AppID = aicc.NewID(aicc.PrefixChannel), tenant.ID, fmt.Sprintf("ch%d", i), fmt.Sprintf("app%d", i)
		app, verify := fmt.Sprintf("CANARY-app-%d", i), fmt.Sprintf("CANARY-verify-%d", i)
		sealedApp := krA.Seal(app, aicc.ChannelSecretOwner(ch.ID, aicc.SecretAppSecret), time.Now())
		sealedVerify := krA.Seal(verify, aicc.ChannelSecretOwner(ch.ID, aicc.SecretVerifyToken), time.Now())
		require.NoError(t, store.CreateChannel(ctx, ch, aicc.ChannelSecrets{AppSecret: sealedApp, VerifyToken: sealedVerify}))
		secrets = append(secrets, secret{aicc.SecretAppSecret, ch.ID, app, sealedApp.Fingerprint},
			secret{aicc.SecretVerifyToken, ch.ID, verify, sealedVerify.Fingerprint})
		chIDs = append(chIDs, ch.ID)
	}
	for i := range pages {
		id, token := strconv.Itoa(1_000_000+i), fmt.Sprintf("CANARY-token-%d", i)
		sealed := krA.Seal(token, aicc.PageTokenOwner(id), time.Now())
		p := &aicc.Page{PageID: id, ChannelID: chIDs[i%channels], TenantID: tenant.ID, Name: "Page " + id}
		require.NoError(t, store.AddPage(ctx, p, sealed))
		secrets = append(secrets, secret{aicc.SecretPageToken, tenant.ID + "/" + p.ChannelID + "/" + id, token, sealed.Fingerprint})
	}
	// Rotations under way: a previous app secret still accepted, and a new value waiting for its workflow.
	const inRotation = 100
	for i, chID := range chIDs[:inRotation] {
		previous := fmt.Sprintf("CANARY-app-%d", i)
		sealedPrevious := krA.Seal(previous, aicc.ChannelSecretOwner(chID, aicc.SecretPreviousAppSecret), time.Now())
		v := &aicc.SecretVersion{ID: aicc.NewID("sv"), TenantID: tenant.ID, ChannelID: chID, Kind: aicc.SecretAppSecret}
		v.Sealed = krA.Seal(fmt.Sprintf("CANARY-next-%d", i), aicc.SecretVersionOwner(v.ID), time.Now())
		require.NoError(t, store.AddSecretVersion(ctx, v))
		current := krA.Seal(fmt.Sprintf("CANARY-next-%d", i), aicc.ChannelSecretOwner(chID, aicc.SecretAppSecret), time.Now())
		require.NoError(t, store.ChangeAppSecret(ctx, aicc.AppSecretChange{
			ChannelID: chID, VersionID: v.ID, Current: current, Previous: &sealedPrevious, PreviousUntil: time.Now().Add(time.Hour),
		}))
		secrets[2*i] = secret{aicc.SecretAppSecret, chID, fmt.Sprintf("CANARY-next-%d", i), current.Fingerprint}
		pending := &aicc.SecretVersion{ID: aicc.NewID("sv"), TenantID: tenant.ID, ChannelID: chID, Kind: aicc.SecretAppSecret}
		pending.Sealed = krA.Seal(fmt.Sprintf("CANARY-pending-%d", i), aicc.SecretVersionOwner(pending.ID), time.Now())
		require.NoError(t, store.AddSecretVersion(ctx, pending))
		secrets = append(secrets, secret{aicc.SecretPreviousAppSecret, chID, previous, sealedPrevious.Fingerprint},
			secret{aicc.SecretVersionValue, chID + "/" + pending.ID, fmt.Sprintf("CANARY-pending-%d", i), pending.Sealed.Fingerprint})
	}
	require.NoError(t, store.Close())
	t.Logf("stored %d secrets under key %s in %s", len(secrets), idA, time.Since(start).Round(time.Millisecond))
	total := len(secrets) + 1 // and the fingerprint key

	b64 := base64.StdEncoding.EncodeToString
	rotating := []string{"AICC_DATABASE_URL=" + url, "AICC_MASTER_KEY=" + b64(keyB), "AICC_MASTER_KEY_PREVIOUS=" + b64(keyA)}

	// 1. Rotate two secrets per transaction, and SIGKILL the process once it reports 500 done. Nothing is
	// read from its stdout after that, so it blocks on a full pipe long before the end, if it is still running.
	start = time.Now()
	cmd := aiccCommand(rotating, "keys", "rotate", "--batch-size", "2")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	progress := regexp.MustCompile(`^keys rotate: (\d+)/(\d+) re-sealed`)
	lines := bufio.NewScanner(stdout)
	var seen []string
	killedAt := -1
	for lines.Scan() {
		seen = append(seen, lines.Text())
		if m := progress.FindStringSubmatch(lines.Text()); m != nil {
			require.Equal(t, strconv.Itoa(total), m[2])
			if done, _ := strconv.Atoi(m[1]); done >= 500 {
				killedAt = done
				require.NoError(t, cmd.Process.Kill())
				break
			}
		}
	}
	require.Positive(t, killedAt, "progress: %q; stderr: %s", seen, stderr.String())
	err = cmd.Wait()
	var exit *exec.ExitError
	require.True(t, errors.As(err, &exit) && !exit.Exited(), "killed by the signal, not finished: %v", err)
	requireNoCanary(t, strings.Join(seen, "\n"), stderr.String())

	// Killed mid-way: some secrets under A, some under B, none lost, every one opens with A and B.
	store, err = db.Open(ctx, url)
	require.NoError(t, err)
	defer store.Close()
	under := sealedUnder(t, store)
	t.Logf("killed after %d reported re-sealed, %s in: %d secrets under B, %d under A", killedAt,
		time.Since(start).Round(time.Millisecond), under[idB], under[idA])
	require.Positive(t, under[idA], "not finished")
	require.GreaterOrEqual(t, under[idB], killedAt)
	require.Equal(t, total, under[idA]+under[idB])
	both, err := loadKeyring(ctx, Config{MasterKey: keyB, PreviousMasterKeys: [][]byte{keyA}}, store, time.Now())
	require.NoError(t, err)
	for _, s := range secrets {
		requireSecret(t, store, both, s.kind, s.id, s.value, s.fingerprint)
	}
	out, code := runAICC(t, rotating, "keys", "status")
	require.Equal(t, exitStale, code, out)
	require.Contains(t, out, "run aicc keys rotate")

	// 2. Run again: it finishes.
	start = time.Now()
	out, code = runAICC(t, rotating, "keys", "rotate")
	require.Equal(t, exitOK, code, out)
	require.Contains(t, out, fmt.Sprintf("%d secrets to re-seal", under[idA]))
	require.Contains(t, out, fmt.Sprintf("done: %d re-sealed", under[idA]))
	t.Logf("second run re-sealed %d in %s", under[idA], time.Since(start).Round(time.Millisecond))
	out, code = runAICC(t, rotating, "keys", "status")
	require.Equal(t, exitOK, code, out)
	require.Regexp(t, idA+`\s+previous(\s+0){7}\n`, out)
	require.Regexp(t, fmt.Sprintf(`%s\s+current\s+%d\s+%d\s+%d\s+%d\s+%d\s+1\s+%d\n`,
		idB, channels, inRotation, channels, pages, inRotation, total), out)

	// 3. Key A is no longer needed: with B alone, every secret opens to its value and keeps its fingerprint.
	onlyB := []string{"AICC_DATABASE_URL=" + url, "AICC_MASTER_KEY=" + b64(keyB)}
	out, code = runAICC(t, onlyB, "keys", "status")
	require.Equal(t, exitOK, code, out)
	require.Equal(t, map[string]int{idB: total}, sealedUnder(t, store))
	krB, err := loadKeyring(ctx, Config{MasterKey: keyB}, store, time.Now())
	require.NoError(t, err)
	for _, s := range secrets {
		requireSecret(t, store, krB, s.kind, s.id, s.value, s.fingerprint)
	}
	require.Equal(t, krA.Fingerprint("CANARY-x"), krB.Fingerprint("CANARY-x"), "fingerprints do not depend on the master key")
}

// TestKeysRotateRefusesUnknownKeys: a secret sealed under a key the configuration lacks stops the rotation
// before it changes anything, and the error names key IDs only.
func TestKeysRotateRefusesUnknownKeys(t *testing.T) {
	ctx := context.Background()
	store := dbtest.SQLite(t)
	keyA, keyB, keyC := aicc.RandomBytes(32), aicc.RandomBytes(32), aicc.RandomBytes(32)
	_, err := loadKeyring(ctx, Config{MasterKey: keyB}, store, time.Now()) // the fingerprint key, under B
	require.NoError(t, err)
	tenant := &aicc.Tenant{Name: "t"}
	require.NoError(t, store.CreateTenant(ctx, tenant))
	krA, err := aicc.NewKeyring(keyA)
	require.NoError(t, err)
	ch := new(aicc.DefaultChannel())
	ch.ID, ch.TenantID, ch.Name, ch.AppID = aicc.NewID(aicc.PrefixChannel), tenant.ID, "ch", "app"
	require.NoError(t, store.CreateChannel(ctx, ch, aicc.ChannelSecrets{
		AppSecret: krA.Seal("CANARY-app", aicc.ChannelSecretOwner(ch.ID, aicc.SecretAppSecret), time.Now()),
	}))

	var out bytes.Buffer
	_, err = rotateKeys(ctx, Config{MasterKey: keyC, PreviousMasterKeys: [][]byte{keyB}}, store, 10, &out)
	require.ErrorContains(t, err, aicc.KeyID(keyA))
	require.ErrorContains(t, err, "nothing was re-sealed")
	requireNoCanary(t, err.Error(), out.String())
	require.Equal(t, map[string]int{aicc.KeyID(keyA): 1, aicc.KeyID(keyB): 1}, sealedUnder(t, store))

	// Without the key that seals the fingerprint key, no process starts.
	_, err = loadKeyring(ctx, Config{MasterKey: keyC}, store, time.Now())
	require.ErrorContains(t, err, aicc.KeyID(keyB))
}

// TestLoadKeyringKeepsExistingFingerprints: the first start after the upgrade may already run with a new
// key; the stored fingerprint key is then derived from the key that sealed the secrets, whose fingerprints it
// made.
func TestLoadKeyringKeepsExistingFingerprints(t *testing.T) {
	ctx := context.Background()
	store := dbtest.SQLite(t)
	keyA, keyB := aicc.RandomBytes(32), aicc.RandomBytes(32)
	krA, err := aicc.NewKeyring(keyA) // the release before: fingerprints derived from the master key
	require.NoError(t, err)
	tenant := &aicc.Tenant{Name: "t"}
	require.NoError(t, store.CreateTenant(ctx, tenant))
	ch := new(aicc.DefaultChannel())
	ch.ID, ch.TenantID, ch.Name, ch.AppID = aicc.NewID(aicc.PrefixChannel), tenant.ID, "ch", "app"
	sealed := krA.Seal("CANARY-app", aicc.ChannelSecretOwner(ch.ID, aicc.SecretAppSecret), time.Now())
	require.NoError(t, store.CreateChannel(ctx, ch, aicc.ChannelSecrets{AppSecret: sealed}))

	kr, err := loadKeyring(ctx, Config{MasterKey: keyB, PreviousMasterKeys: [][]byte{keyA}}, store, time.Now())
	require.NoError(t, err)
	require.Equal(t, sealed.Fingerprint, kr.Fingerprint("CANARY-app"))
	stored, err := store.SystemKey(ctx, aicc.SecretFingerprintKey)
	require.NoError(t, err)
	require.Equal(t, aicc.KeyID(keyB), stored.KeyID, "sealed under the current key")
}

// aiccCommand returns the test binary set up to run as "aicc args…" with only the given environment.
func aiccCommand(env []string, args ...string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append([]string{asAICCEnv + "=1"}, env...)
	return cmd
}

// runAICC runs "aicc args…" in a subprocess and returns its combined output and exit code.
func runAICC(tb testing.TB, env []string, args ...string) (string, int) {
	tb.Helper()
	out, err := aiccCommand(env, args...).CombinedOutput()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		tb.Fatalf("aicc %s: %v", strings.Join(args, " "), err)
	}
	requireNoCanary(tb, string(out))
	if exit != nil {
		return string(out), exit.ExitCode()
	}
	return string(out), 0
}

// sealedUnder counts the stored secrets per master key ID.
func sealedUnder(tb testing.TB, store *db.Store) map[string]int {
	tb.Helper()
	counts, err := store.CountSealed(context.Background())
	require.NoError(tb, err)
	per := map[string]int{}
	for _, c := range counts {
		per[c.KeyID] += c.Count
	}
	return per
}

// requireSecret checks that the stored secret opens with kr to value and has the fingerprint it had.
func requireSecret(tb testing.TB, store *db.Store, kr *aicc.Keyring, kind aicc.SecretKind, id, value, fingerprint string) {
	tb.Helper()
	ctx := context.Background()
	var sealed aicc.SealedSecret
	var owner string
	var err error
	switch kind {
	case aicc.SecretPageToken: // id is tenant ID/channel ID/Page ID
		key := strings.SplitN(id, "/", 3)
		sealed, err = store.PageToken(ctx, key[0], key[1], key[2])
		owner = aicc.PageTokenOwner(key[2])
	case aicc.SecretPreviousAppSecret:
		sealed, _, err = store.PreviousAppSecret(ctx, id)
		owner = aicc.ChannelSecretOwner(id, kind)
	case aicc.SecretVersionValue: // id is channel ID/version ID
		channelID, versionID, _ := strings.Cut(id, "/")
		var v *aicc.SecretVersion
		if v, err = store.SecretVersion(ctx, channelID, versionID); err == nil {
			sealed = v.Sealed
		}
		owner = aicc.SecretVersionOwner(versionID)
	default:
		sealed, err = store.ChannelSecret(ctx, id, kind)
		owner = aicc.ChannelSecretOwner(id, kind)
	}
	require.NoError(tb, err)
	got, err := kr.Open(sealed, owner)
	require.NoError(tb, err)
	if got != value || sealed.Fingerprint != fingerprint || kr.Fingerprint(got) != fingerprint {
		tb.Fatalf("%s %s: value or fingerprint changed (fingerprint %s, want %s)", kind, id, sealed.Fingerprint, fingerprint)
	}
}

func requireNoCanary(tb testing.TB, outputs ...string) {
	tb.Helper()
	for _, o := range outputs {
		if strings.Contains(o, "CANARY") {
			tb.Fatalf("a secret value appears in the output: %q", o)
		}
	}
}
