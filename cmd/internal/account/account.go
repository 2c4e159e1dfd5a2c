// Package account keeps the workspace's accounts (SPEC §10): password
// hashes, sessions and API tokens in the store, and the first start's
// admin account. The web server and `duban user` both use it.
//
// Passwords are hashed with argon2id (golang.org/x/crypto/argon2), the
// memory-hard KDF RFC 9106 recommends, at OWASP's minimum parameters
// (19 MiB, 2 passes, 1 lane): about 30 ms a hash on one core, so a login
// is cheap for a person and a test, but a stolen database is not. The
// parameters are stored in each hash (PHC string format), so they can
// rise later without breaking old hashes.
package account

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/argon2"

	"duban/tracker"
)

// Argon2id parameters for new hashes.
const (
	argonTime    = 2
	argonMemory  = 19 * 1024 // KiB
	argonThreads = 1
	argonKeyLen  = 32
)

// SessionTTL is how long a session lasts after sign-in.
const SessionTTL = 12 * time.Hour

// MinPassword is the shortest password accepted.
const MinPassword = 8

// ErrBadLogin is returned by Login for an unknown name or a wrong
// password (the caller cannot tell which).
var ErrBadLogin = errors.New("用户名或密码不正确")

// HashPassword returns the argon2id hash of password in PHC format.
func HashPassword(password string) (string, error) {
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	key := argon2.IDKey([]byte(password), salt, argonTime, argonMemory, argonThreads, argonKeyLen)
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, argonMemory, argonTime, argonThreads,
		b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

// CheckPassword reports whether password matches hash.
func CheckPassword(hash, password string) bool {
	parts := strings.Split(hash, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return false
	}
	var version int
	var m uint32
	var t uint32
	var p uint8
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return false
	}
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &m, &t, &p); err != nil || m == 0 || t == 0 || p == 0 {
		return false
	}
	b64 := base64.RawStdEncoding
	salt, err1 := b64.DecodeString(parts[4])
	want, err2 := b64.DecodeString(parts[5])
	if err1 != nil || err2 != nil || len(want) == 0 {
		return false
	}
	got := argon2.IDKey([]byte(password), salt, t, m, p, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1
}

// NewSecret returns a random URL-safe secret of 32 bytes (256 bits).
func NewSecret() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand never fails on supported systems
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// NewPassword returns a random password that is easy to type once:
// 16 characters from an alphabet without look-alikes.
func NewPassword() string {
	const alphabet = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}

// HashSecret is how sessions and tokens are keyed in the store.
func HashSecret(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

var namePattern = regexp.MustCompile(`^[\p{L}\p{N}_.@-]{1,64}$`)

// Spec is what `user add` asks for.
type Spec struct {
	Name     string
	Role     tracker.Role
	Unit     string // role unit
	Person   string // role leader
	Password string
}

// Add creates an account. It fails with tracker.ErrInvalid for a bad
// name, role, unit, person or password, or a name already taken.
func Add(tx tracker.Tx, s Spec, now time.Time) (*tracker.Account, error) {
	at, err := tracker.Accounts(tx)
	if err != nil {
		return nil, err
	}
	if !namePattern.MatchString(s.Name) {
		return nil, invalid("账户名 %q 无效：用 1 至 64 个字母、数字或 _ . @ -", s.Name)
	}
	if _, err := at.Account(s.Name); err == nil {
		return nil, invalid("账户 %s 已存在", s.Name)
	} else if !errors.Is(err, tracker.ErrNotFound) {
		return nil, err
	}
	if !tracker.ValidRole(s.Role) {
		return nil, invalid("角色 %q 无效：可用 admin、office、leader、unit", s.Role)
	}
	a := &tracker.Account{Name: s.Name, Role: s.Role, Created: now.UTC()}
	switch s.Role {
	case tracker.RoleUnit:
		if s.Unit == "" {
			return nil, invalid("角色 unit 需要 --unit（单位编号）")
		}
		if _, err := tx.Unit(s.Unit); err != nil {
			if errors.Is(err, tracker.ErrNotFound) {
				return nil, invalid("单位 %q 不存在", s.Unit)
			}
			return nil, err
		}
		a.Unit = s.Unit
	case tracker.RoleLeader:
		if s.Person == "" {
			return nil, invalid("角色 leader 需要 --person（人员编号，其分管的单位可见）")
		}
		if _, err := tx.Person(s.Person); err != nil {
			if errors.Is(err, tracker.ErrNotFound) {
				return nil, invalid("人员 %q 不存在", s.Person)
			}
			return nil, err
		}
		a.Person = s.Person
	default:
		if s.Unit != "" || s.Person != "" {
			return nil, invalid("--unit 只用于角色 unit，--person 只用于角色 leader")
		}
	}
	if err := setPassword(a, s.Password); err != nil {
		return nil, err
	}
	return a, at.PutAccount(a)
}

// SetPassword replaces name's password and ends its sessions.
func SetPassword(tx tracker.Tx, name, password string) error {
	at, err := tracker.Accounts(tx)
	if err != nil {
		return err
	}
	a, err := at.Account(name)
	if err != nil {
		return notFound(name, err)
	}
	if err := setPassword(a, password); err != nil {
		return err
	}
	if err := endSessions(at, name); err != nil {
		return err
	}
	return at.PutAccount(a)
}

func setPassword(a *tracker.Account, password string) error {
	if len([]rune(password)) < MinPassword {
		return invalid("密码太短：至少 %d 个字符", MinPassword)
	}
	h, err := HashPassword(password)
	if err != nil {
		return err
	}
	a.PasswordHash = h
	return nil
}

func endSessions(at tracker.AccountTx, name string) error {
	return deleteSessions(at, func(s *tracker.Session) bool { return s.Account == name })
}

// deleteSessions deletes the sessions for which match is true.
func deleteSessions(at tracker.AccountTx, match func(*tracker.Session) bool) error {
	var ids []string
	if err := at.Sessions(func(s *tracker.Session) error {
		if match(s) {
			ids = append(ids, s.ID)
		}
		return nil
	}); err != nil {
		return err
	}
	for _, id := range ids {
		if err := at.DeleteSession(id); err != nil {
			return err
		}
	}
	return nil
}

// Remove deletes the account with its sessions and tokens.
func Remove(tx tracker.Tx, name string) error {
	at, err := tracker.Accounts(tx)
	if err != nil {
		return err
	}
	return notFound(name, at.DeleteAccount(name))
}

// NewToken makes an API token for name and returns it; only its hash is
// stored.
func NewToken(tx tracker.Tx, name string, now time.Time) (string, error) {
	at, err := tracker.Accounts(tx)
	if err != nil {
		return "", err
	}
	if _, err := at.Account(name); err != nil {
		return "", notFound(name, err)
	}
	secret := "dbt_" + NewSecret()
	return secret, at.PutToken(&tracker.Token{Hash: HashSecret(secret), Account: name, Created: now.UTC()})
}

// Login checks name and password and starts a session; it returns the
// session's secret (the cookie value) and the account. A wrong name or
// password gives ErrBadLogin.
func Login(tx tracker.Tx, name, password string, now time.Time) (string, *tracker.Account, error) {
	at, err := tracker.Accounts(tx)
	if err != nil {
		return "", nil, err
	}
	a, err := at.Account(name)
	if errors.Is(err, tracker.ErrNotFound) {
		CheckPassword(dummyHash(), password) // take as long as a real check
		return "", nil, ErrBadLogin
	}
	if err != nil {
		return "", nil, err
	}
	if !CheckPassword(a.PasswordHash, password) {
		return "", nil, ErrBadLogin
	}
	secret := NewSecret()
	s := &tracker.Session{ID: HashSecret(secret), Account: a.Name, Created: now.UTC(), Expires: now.Add(SessionTTL).UTC()}
	if err := at.PutSession(s); err != nil {
		return "", nil, err
	}
	return secret, a, nil
}

// dummyHash is checked against when the name is unknown, so that a wrong
// name takes as long as a wrong password. It is made on first use: an
// argon2id hash costs about 100 ms, which every command would otherwise
// pay at start-up.
var dummyHash = sync.OnceValue(func() string {
	h, _ := HashPassword("duban-dummy-password")
	return h
})

// BySession returns the account of a session secret that has not expired
// at now; tracker.ErrNotFound otherwise.
func BySession(tx tracker.Tx, secret string, now time.Time) (*tracker.Account, *tracker.Session, error) {
	at, err := tracker.Accounts(tx)
	if err != nil {
		return nil, nil, err
	}
	s, err := at.Session(HashSecret(secret))
	if err != nil {
		return nil, nil, err
	}
	if !now.Before(s.Expires) {
		return nil, nil, fmt.Errorf("session expired: %w", tracker.ErrNotFound)
	}
	a, err := at.Account(s.Account)
	return a, s, err
}

// ByToken returns the account of an API token; tracker.ErrNotFound if
// the token is unknown.
func ByToken(tx tracker.Tx, secret string) (*tracker.Account, error) {
	at, err := tracker.Accounts(tx)
	if err != nil {
		return nil, err
	}
	k, err := at.Token(HashSecret(secret))
	if err != nil {
		return nil, err
	}
	return at.Account(k.Account)
}

// Logout ends the session of secret (nothing if unknown).
func Logout(tx tracker.Tx, secret string) error {
	at, err := tracker.Accounts(tx)
	if err != nil {
		return err
	}
	return at.DeleteSession(HashSecret(secret))
}

// PruneSessions deletes the sessions expired at now.
func PruneSessions(tx tracker.Tx, now time.Time) error {
	at, err := tracker.Accounts(tx)
	if err != nil {
		return err
	}
	return deleteSessions(at, func(s *tracker.Session) bool { return !now.Before(s.Expires) })
}

// EnsureAdmin creates the account admin with a random password when the
// store has no account at all, and returns that password ("" when
// accounts exist). The caller prints it once: it is stored only hashed.
func EnsureAdmin(tx tracker.Tx, now time.Time) (string, error) {
	at, err := tracker.Accounts(tx)
	if err != nil {
		return "", err
	}
	empty := true
	if err := at.Accounts(func(*tracker.Account) error {
		empty = false
		return tracker.ErrStop
	}); err != nil && !errors.Is(err, tracker.ErrStop) {
		return "", err
	}
	if !empty {
		return "", nil
	}
	pw := NewPassword()
	if _, err := Add(tx, Spec{Name: "admin", Role: tracker.RoleAdmin, Password: pw}, now); err != nil {
		return "", err
	}
	return pw, nil
}

func notFound(name string, err error) error {
	if errors.Is(err, tracker.ErrNotFound) {
		return fmt.Errorf("账户 %s 不存在: %w", name, tracker.ErrNotFound)
	}
	return err
}

type invalidError struct{ msg string }

func (e *invalidError) Error() string        { return e.msg }
func (e *invalidError) Is(target error) bool { return target == tracker.ErrInvalid }

func invalid(format string, args ...any) error {
	return &invalidError{msg: fmt.Sprintf(format, args...)}
}
