package tracker

import (
	"slices"
	"time"
)

// Role is what a workspace account may see and do (SPEC §10).
type Role string

// The workspace roles.
const (
	RoleAdmin  Role = "admin"  // everything, accounts too
	RoleOffice Role = "office" // 督查室: every item, every action
	RoleLeader Role = "leader" // read-only: the units the person leads
	RoleUnit   Role = "unit"   // one unit's own instances
)

// Roles lists the roles in the order help texts show them.
var Roles = []Role{RoleAdmin, RoleOffice, RoleLeader, RoleUnit}

// ValidRole reports whether r is a known role.
func ValidRole(r Role) bool { return slices.Contains(Roles, r) }

// Label is the role's Chinese name.
func (r Role) Label() string {
	switch r {
	case RoleAdmin:
		return "管理员"
	case RoleOffice:
		return "督查室"
	case RoleLeader:
		return "领导"
	case RoleUnit:
		return "承办单位"
	}
	return string(r)
}

// CanAct reports whether the role may record office actions (done,
// extend, assign …) on any instance.
func (r Role) CanAct() bool { return r == RoleAdmin || r == RoleOffice }

// Account is a workspace account. The password is stored only as a
// self-describing hash (cmd/internal/account makes and checks it).
type Account struct {
	Name         string    `json:"name"`
	Role         Role      `json:"role"`
	Unit         string    `json:"unit,omitempty"`   // role unit: the unit's id
	Person       string    `json:"person,omitempty"` // role leader: the person's id (units they lead)
	PasswordHash string    `json:"password_hash"`
	Created      time.Time `json:"created"`
}

// Session is a signed-in browser. ID is the SHA-256 of the cookie's token
// (hex): the database never holds a token that would sign anyone in.
type Session struct {
	ID      string    `json:"id"`
	Account string    `json:"account"`
	Created time.Time `json:"created"`
	Expires time.Time `json:"expires"`
}

// Token is an API token of an account (Authorization: Bearer), stored as
// the SHA-256 of the token (hex).
type Token struct {
	Hash    string    `json:"hash"`
	Account string    `json:"account"`
	Created time.Time `json:"created"`
}

// AccountTx is the part of a transaction that holds workspace accounts,
// sessions and API tokens. The stores implement it beside Tx; callers get
// it with Accounts(tx).
type AccountTx interface {
	Account(name string) (*Account, error) // ErrNotFound if absent
	PutAccount(*Account) error
	// DeleteAccount removes the account with its sessions and tokens.
	DeleteAccount(name string) error
	Accounts(fn func(*Account) error) error

	Session(id string) (*Session, error) // ErrNotFound if absent
	PutSession(*Session) error
	DeleteSession(id string) error
	Sessions(fn func(*Session) error) error

	Token(hash string) (*Token, error) // ErrNotFound if absent
	PutToken(*Token) error
	DeleteToken(hash string) error
	Tokens(fn func(*Token) error) error
}

// Accounts returns tx's accounts part, or ErrInvalid if the store keeps
// no accounts.
func Accounts(tx Tx) (AccountTx, error) {
	if a, ok := tx.(AccountTx); ok {
		return a, nil
	}
	return nil, errNoAccounts
}

var errNoAccounts error = &invalidError{msg: "这个数据库不保存工作台账户"}
