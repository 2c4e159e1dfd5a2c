package notify_test

import (
	"errors"
	"strings"
	"testing"

	"duban/notify"
)

func TestParseAddress(t *testing.T) {
	tests := []struct {
		in, name, addr string
	}{
		{"wang@example.gov.cn", "", "wang@example.gov.cn"},
		{"  <wang@example.gov.cn> ", "", "wang@example.gov.cn"},
		{"王冠标 <wang@example.gov.cn>", "王冠标", "wang@example.gov.cn"},
		{`"李秘书长, 市政府办公室" <li@example.gov.cn>`, "李秘书长, 市政府办公室", "li@example.gov.cn"},
		{"=?utf-8?b?5byg5LiJ?= <zhang@example.gov.cn>", "张三", "zhang@example.gov.cn"},
		{"Zhou Kezhang <zhou.k+duban@mail.example.gov.cn>", "Zhou Kezhang", "zhou.k+duban@mail.example.gov.cn"},
	}
	for _, tt := range tests {
		a, err := notify.ParseAddress(tt.in)
		if err != nil || a.Name != tt.name || a.Address != tt.addr {
			t.Errorf("ParseAddress(%q) = %q <%s>, %v; want %q <%s>", tt.in, a.Name, a.Address, err, tt.name, tt.addr)
		}
	}
}

func TestParseAddressRejects(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"", "no address"},
		{"wang@example.gov.cn\r\nBcc: evil@attacker.example", "line break"},
		{"王冠标\n <wang@example.gov.cn>", "line break"},
		{"wang", "missing '@'"},
		{"王 <王@example.gov.cn>", "not allowed in local part"},
		{`"a,b"@example.gov.cn`, "not allowed in local part"},
		{"wang@[10.0.0.1]", "not allowed in domain"},
		{"wang@-example.gov.cn", "bad domain"},
		{"=?utf-8?q?a=0Db?= <wang@example.gov.cn>", "line break"}, // encoded CR
		{"=?utf-8?q?a=01b?= <wang@example.gov.cn>", "control character"},
		{strings.Repeat("长", 101) + " <wang@example.gov.cn>", "limit 100"},
		{"a@b.cn, c@d.cn", "expected single address"},
	}
	for _, tt := range tests {
		_, err := notify.ParseAddress(tt.in)
		if err == nil || !errors.Is(err, notify.ErrInvalid) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ParseAddress(%q) error = %v; want ErrInvalid mentioning %q", tt.in, err, tt.want)
		}
	}
}

func TestParseAddressList(t *testing.T) {
	list, err := notify.ParseAddressList(`市法制局 <fzj@example.gov.cn>, "李秘书长, 办公室" <li@example.gov.cn>, zhou@example.gov.cn`)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 3 || list[0].Name != "市法制局" || list[1].Name != "李秘书长, 办公室" || list[2].Address != "zhou@example.gov.cn" {
		t.Errorf("ParseAddressList = %v", list)
	}
	for _, bad := range []string{"", "  ", "a@b.cn,\r\nBcc: c@d.cn", "a@b.cn, 王@b.cn", "a@b.cn; c@d.cn"} {
		if _, err := notify.ParseAddressList(bad); !errors.Is(err, notify.ErrInvalid) {
			t.Errorf("ParseAddressList(%q) error = %v, want ErrInvalid", bad, err)
		}
	}
}
