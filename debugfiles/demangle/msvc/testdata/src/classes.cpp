// Class machinery: vftables, vbtables, RTTI, thunks, deleting destructors,
// static locals and their guards, dynamic initializers, lambdas, literals.
#include "minstd.h"

struct Base {
  virtual ~Base();
  virtual int f(int);
  virtual int g() const;
  int plain();
};
Base::~Base() {}
int Base::f(int x) { return x; }
int Base::g() const { return 1; }
int Base::plain() { return 2; }

struct Left : Base { int f(int) override; int l; };
struct Right { virtual ~Right(); virtual int r(); int rr; };
struct Both : Left, Right {
  ~Both() override;
  int f(int) override;
  int r() override;
};
int Left::f(int x) { return x + 1; }
Right::~Right() {}
int Right::r() { return 3; }
Both::~Both() {}
int Both::f(int x) { return x + 2; }
int Both::r() { return 4; }

// Virtual inheritance: vbtables, vbase destructors, vtordisp thunks.
struct VBase { virtual int vf(); virtual ~VBase(); int vb; };
int VBase::vf() { return 5; }
VBase::~VBase() {}
struct VLeft : virtual VBase { VLeft(); ~VLeft(); int vf() override; };
struct VRight : virtual VBase { VRight(); ~VRight(); };
struct Diamond : VLeft, VRight { Diamond(); ~Diamond(); int vf() override; };
VLeft::VLeft() {}
VLeft::~VLeft() {}
int VLeft::vf() { return 6; }
VRight::VRight() {}
VRight::~VRight() {}
Diamond::Diamond() {}
Diamond::~Diamond() {}
int Diamond::vf() { return 7; }
#pragma vtordisp(push, 2)
struct VD : virtual VBase { VD(); ~VD(); int vf() override; };
VD::VD() {}
VD::~VD() {}
int VD::vf() { return 8; }
#pragma vtordisp(pop)

// Arrays of objects need vector constructor/destructor iterators and
// vector deleting destructors.
struct WithDtor { WithDtor(); ~WithDtor(); int w; };
WithDtor::WithDtor() {}
WithDtor::~WithDtor() {}
WithDtor *make_array(int n) { return new WithDtor[n]; }
void free_array(WithDtor *p) { delete[] p; }
void free_one(Base *p) { delete p; }
Base *make_both() { return new Both; }
Diamond *make_diamond() { return new Diamond; }
VD *make_vd() { return new VD; }

// A dllexport class with a defaulted-argument constructor gets a default
// constructor closure.
struct __declspec(dllexport) Exported {
  Exported(int x = 3);
  ~Exported();
  Exported &operator=(const Exported &);
  static int s;
  int e;
};
Exported::Exported(int x) : e(x) {}
Exported::~Exported() {}
Exported &Exported::operator=(const Exported &o) { e = o.e; return *this; }
int Exported::s = 9;

// Member pointers to virtual functions need vcall thunks.
int (Base::*vptr_f)(int) = &Base::f;
int (Base::*vptr_g)() const = &Base::g;
int (Both::*vptr_r)() = &Both::r;

// Static locals: guards (thread-safe and not), local classes, lambdas.
int counter() {
  static int calls = 0;
  static WithDtor obj;
  return ++calls + obj.w;
}
int counter2(int x) {
  if (x > 0) {
    static int a = x;
    return a;
  }
  static int b = x * 2;
  return b;
}
struct Local {
  int method() {
    static int m = 3;
    struct In { int q() { return 4; } };
    return m + In().q();
  }
};
int use_local() { return Local().method(); }
int lambdas(int k) {
  auto add = [k](int x) { return x + k; };
  auto nested = [](int y) { return [y](int z) { return y * z; }(y); };
  auto generic = [](auto a, auto b) { return a + b; };
  static auto stateless = [](double d) { return (int)d; };
  return add(1) + nested(2) + generic(3, 4) + generic(1L, 2L) + stateless(3.5);
}
thread_local int tls_counter = 0;
int tls_use() {
  thread_local static WithDtor tobj;
  return ++tls_counter + tobj.w;
}

// Dynamic initializers and atexit destructors for globals and static
// members.
int compute();
int g_dyn = compute();
WithDtor g_obj;
struct Holder { static WithDtor held; static int dyn; };
WithDtor Holder::held;
int Holder::dyn = compute();
namespace ns { WithDtor ns_obj; }

// String literals of every width and some awkward contents.
const char *s_empty() { return ""; }
const char *s_ascii() { return "Hello, world!"; }
const char *s_escapes() { return "tab\there\nnew\"quote'\\back\a\b\f\r\v"; }
const char *s_high() { return "caf\xe9 \xff\x80\x01"; }
const char *s_long() { return "This string is much longer than thirty-two bytes, so it is truncated."; }
const char *s_exact() { return "0123456789abcdefghijklmnopqrstu"; }
const char *s_punct() { return ",/\\:. \n\t'-?@$"; }
const wchar_t *w_short() { return L"wide"; }
const wchar_t *w_long() { return L"A wide string that is longer than thirty-two characters."; }
const wchar_t *w_unicode() { return L"\u00e9\u4e2d\u6587"; }
const char16_t *u16() { return u"sixteen"; }
const char16_t *u16_long() { return u"UTF-16 literal that is longer than the limit"; }
const char32_t *u32() { return U"thirty-two"; }
const char32_t *u32_long() { return U"UTF-32 literal, long enough to be cut"; }
const char8_t *u8() { return u8"eight"; }
const char *s_nul() { return "a\0b"; }

// Conversion to bool on a base through a vtable keeps RTTI data alive.
int use_classes() {
  Both b;
  Base &br = b;
  Right &rr = b;
  return br.f(1) + rr.r() + counter() + counter2(1) + lambdas(2) + tls_use() +
         (b.*vptr_f)(1) + (b.*vptr_g)() + (b.*vptr_r)();
}
