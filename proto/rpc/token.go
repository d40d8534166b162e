package rpc

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strings"

	"google.golang.org/grpc/credentials"
)

// Bearer tokens (docs/architecture.md §9): "nst_" + a public ID + "_" + a
// secret of 32 random bytes. The ID finds the token; the state keeps only
// the secret's SHA-256. Roles form a ladder: each allows what the ones
// before it do.

// TokenRoles are the roles of a token, weakest first: read (every Get,
// List and Watch), submit (jobs, schedules, runs), operate (cancel, drain,
// pause, promote and roll back, resume runs), admin (peers, tokens).
var TokenRoles = []string{"read", "submit", "operate", "admin"}

// RoleAllows reports whether a token of role have may call a method that
// needs role need (an unknown role allows nothing).
func RoleAllows(have, need string) bool {
	h, n := slices.Index(TokenRoles, have), slices.Index(TokenRoles, need)
	return h >= 0 && n >= 0 && h >= n
}

const (
	tokenPrefix      = "nst_"
	tokenIDBytes     = 10 // 16 base32 characters
	tokenSecretBytes = 32
	// AuthorizationHeader is the gRPC metadata key of the bearer token.
	AuthorizationHeader = "authorization"
	bearer              = "Bearer "
)

var tokenIDEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// NewToken returns a fresh token: its public ID, the SHA-256 of its
// secret (what the state keeps) and the whole bearer string (shown once).
func NewToken() (id string, secretSHA256 []byte, bearerToken string, err error) {
	raw := make([]byte, tokenIDBytes+tokenSecretBytes)
	if _, err := rand.Read(raw); err != nil {
		return "", nil, "", err
	}
	id = strings.ToLower(tokenIDEncoding.EncodeToString(raw[:tokenIDBytes]))
	secret := base64.RawURLEncoding.EncodeToString(raw[tokenIDBytes:])
	sum := sha256.Sum256([]byte(secret))
	return id, sum[:], tokenPrefix + id + "_" + secret, nil
}

// ErrBadToken is every malformed bearer token: the message says no more.
var ErrBadToken = errors.New("malformed bearer token")

// ParseBearer splits an Authorization value ("Bearer nst_ID_SECRET") into
// the token's ID and the SHA-256 of its secret.
func ParseBearer(header string) (id string, secretSHA256 []byte, err error) {
	tok, ok := strings.CutPrefix(header, bearer)
	if !ok {
		return "", nil, ErrBadToken
	}
	return ParseToken(strings.TrimSpace(tok))
}

// ParseToken splits a token ("nst_ID_SECRET") into its ID and the SHA-256
// of its secret.
func ParseToken(token string) (id string, secretSHA256 []byte, err error) {
	rest, ok := strings.CutPrefix(token, tokenPrefix)
	if !ok {
		return "", nil, ErrBadToken
	}
	id, secret, ok := strings.Cut(rest, "_")
	if !ok || len(id) == 0 || len(id) > 64 || len(secret) == 0 || len(secret) > 128 {
		return "", nil, ErrBadToken
	}
	sum := sha256.Sum256([]byte(secret))
	return id, sum[:], nil
}

// minChosenSecret is the shortest secret a token chosen by an operator
// (rather than made by NewToken) may have: 32 characters of a random
// alphabet carry at least 160 bits.
const minChosenSecret = 32

// CheckToken checks a token an operator chose (a cluster's initial admin
// token): well formed, its ID a lower-case name, its secret at least 32
// characters. The message never repeats the token.
func CheckToken(token string) error {
	id, _, err := ParseToken(token)
	if err != nil {
		return errors.New("want nst_ID_SECRET (for example nst_admin_ and 48 random letters and digits)")
	}
	for _, r := range id {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') {
			return fmt.Errorf("token ID %q: want lower-case letters, digits and dashes", id)
		}
	}
	if secret := token[len(tokenPrefix)+len(id)+1:]; len(secret) < minChosenSecret {
		return fmt.Errorf("token %s: the secret has %d characters, want at least %d", id, len(secret), minChosenSecret)
	}
	return nil
}

// SameSecret compares two secret hashes in constant time.
func SameSecret(a, b []byte) bool { return len(a) == len(b) && subtle.ConstantTimeCompare(a, b) == 1 }

// BearerHeader is the Authorization value of a token.
func BearerHeader(token string) string { return bearer + token }

// BearerCredentials sends a token with every call. It works on plaintext
// connections too (a loopback dev cluster, an insecure one): the server's
// exposure rule, not the client, decides where plaintext is allowed.
func BearerCredentials(token string) credentials.PerRPCCredentials { return bearerCreds(token) }

type bearerCreds string

func (b bearerCreds) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{AuthorizationHeader: BearerHeader(string(b))}, nil
}

func (bearerCreds) RequireTransportSecurity() bool { return false }
