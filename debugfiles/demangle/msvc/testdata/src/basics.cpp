// Namespaces, classes, globals, static members and every built-in type in
// parameters, return types and variables.
#include "minstd.h"

int g_int = 1;
const int g_cint = 2;
volatile int g_vint;
const volatile long g_cvlong = 3;
unsigned long long g_ull;
long long g_ll;
signed char g_sc;
unsigned char g_uc;
char g_c;
short g_s;
unsigned short g_us;
unsigned g_u;
float g_f;
double g_d;
long double g_ld;
bool g_b;
wchar_t g_wc;
char8_t g_c8;
char16_t g_c16;
char32_t g_c32;
std::nullptr_t g_np;
int *g_pint;
const int *g_pcint;
int *const g_cpint = nullptr;
const int *const volatile g_cvpcint = nullptr;
int **g_ppint;
int &g_rint = g_int;
int g_arr[10];
int g_arr2[3][4][5];
const char *g_strs[4];
int (*g_parr)[7];
int (&g_rarr)[10] = g_arr;
void (*g_fp)(int, char);
int (*g_fparr[3])(double);
void (*(*g_fpret)(int))(long);
int *__restrict g_restrict;
__unaligned int *g_unaligned;

enum Color { Red, Green };
enum class Scoped : short { A, B };
union U { int i; float f; };
struct S { int a; };
class K { public: int b; };
Color g_color;
Scoped g_scoped;
U g_union;
S g_struct;
K g_class;
S *g_sptr;
const K &g_kref = g_class;

void f_void() {}
void f_i(int) {}
void f_all(bool, char, signed char, unsigned char, short, unsigned short, int,
           unsigned, long, unsigned long, long long, unsigned long long, float,
           double, long double, wchar_t, char8_t, char16_t, char32_t) {}
void f_ptrs(int *, const int *, volatile int *, const volatile int *,
            int *const, int **, const int *const *, void *, const void *) {}
void f_refs(int &, const int &, int &&, const int &&, S &, const S &, S &&) {}
void f_backref(S, S, S *, S *, const S *, const S *, K &, K &, U, Color, Color) {}
void f_many(S *, K *, U *, Color *, Scoped *, S **, K **, U **, Color **,
            Scoped **, S ***, K ***) {}
void f_arrays(int[], int[3], int (*)[4], int (&)[5], const int (&)[6][7]) {}
void f_fptrs(void (*)(), int (*)(int, int), void (*)(void (*)(int)),
             int (*(*)(char))(short)) {}
void f_fref(void (&)(int), void (&&)(double)) {}
void f_nullptr(std::nullptr_t, decltype(nullptr) *) {}
void f_enum(Color, Scoped, enum Color *, Scoped &) {}
void f_union(U, U *, const U &) {}
int f_var(const char *, ...) { return 0; }
void f_var2(...) {}
void f_noexcept() noexcept {}
void f_noexcept_ptr(void (*)() noexcept, int (*)(int) noexcept) {}
int *f_retp() { return nullptr; }
const S &f_retr() { return g_struct; }
S f_rets() { return S(); }
const S f_retcs() { return S(); }
volatile int *f_retvp() { return nullptr; }
int (*f_retarr())[3] { return nullptr; }
void (*f_retfp())(int) { return nullptr; }
int (S::*f_retmp())() { return nullptr; }
int S::*f_retdm() { return &S::a; }
__int64 f_i64(__int64, unsigned __int64) { return 0; }
void f_restrict(int *__restrict, const char *__restrict) {}
void f_unaligned(__unaligned int *, __unaligned const S *) {}

namespace outer {
int var = 4;
int fn(int x) { return x; }
namespace inner {
struct Deep {
  static int count;
  static const char *name;
  int method(int) const;
  void vol() volatile;
  void cvol() const volatile;
  void lref() &;
  void rref() &&;
  void clref() const &;
  static Deep make();
  struct Nested {
    void go();
    struct More {
      void go();
    };
  };
};
int Deep::count = 0;
const char *Deep::name = "deep";
int Deep::method(int x) const { return x; }
void Deep::vol() volatile {}
void Deep::cvol() const volatile {}
void Deep::lref() & {}
void Deep::rref() && {}
void Deep::clref() const & {}
Deep Deep::make() { return Deep(); }
void Deep::Nested::go() {}
void Deep::Nested::More::go() {}
void takes(Deep, Deep::Nested, Deep::Nested::More *, outer::inner::Deep &) {}
} // namespace inner
inline namespace v1 {
void versioned() {}
} // namespace v1
} // namespace outer

namespace {
int anon_var = 5;
struct AnonType { int x; };
}
__declspec(noinline) int anon_fn(int x) { return x + anon_var; }
void use_anon(AnonType *) {}
namespace outer {
namespace {
void nested_anon(AnonType, AnonType *) {}
}
void call_nested_anon() { nested_anon(AnonType(), nullptr); }
} // namespace outer

class Access {
public:
  void pub();
  static void spub();
  virtual void vpub();
  static int s_pub;

protected:
  void prot();
  static void sprot();
  virtual void vprot();
  static int s_prot;

private:
  void priv();
  static void spriv();
  virtual void vpriv();
  static int s_priv;

public:
  void call();
};
void Access::pub() {}
void Access::spub() {}
void Access::vpub() {}
void Access::prot() {}
void Access::sprot() {}
void Access::vprot() {}
void Access::priv() {}
void Access::spriv() {}
void Access::vpriv() {}
int Access::s_pub = 1;
int Access::s_prot = 2;
int Access::s_priv = 3;
void Access::call() { pub(); prot(); priv(); spub(); sprot(); spriv(); }

struct MemPtrs {
  int data;
  const int cdata = 0;
  int fn(int);
  int cfn(int) const;
  virtual int vfn();
};
int MemPtrs::*g_dm = &MemPtrs::data;
const int MemPtrs::*g_cdm = &MemPtrs::cdata;
int (MemPtrs::*g_mfp)(int) = &MemPtrs::fn;
int (MemPtrs::*g_cmfp)(int) const = &MemPtrs::cfn;
int (MemPtrs::*g_vmfp)() = &MemPtrs::vfn;
void f_memptrs(int MemPtrs::*, int (MemPtrs::*)(int), int (MemPtrs::*)(int) const,
               int (MemPtrs::**)(), int MemPtrs::*const *) {}

// Functions with ten and more distinct parameter types fill the parameter
// back-reference table.
struct T0 {}; struct T1 {}; struct T2 {}; struct T3 {}; struct T4 {};
struct T5 {}; struct T6 {}; struct T7 {}; struct T8 {}; struct T9 {};
struct T10 {}; struct T11 {};
void f_fill(T0 *, T1 *, T2 *, T3 *, T4 *, T5 *, T6 *, T7 *, T8 *, T9 *, T10 *,
            T11 *, T0 *, T9 *, T10 *, T11 *) {}
void f_names(T0, T1, T2, T3, T4, T5, T6, T7, T8, T9, T10, T11, T0, T11) {}
namespace n0 { namespace n1 { namespace n2 { namespace n3 { namespace n4 {
namespace n5 { namespace n6 { namespace n7 { namespace n8 { namespace n9 {
namespace n10 {
struct Z { void f(n0::n1::n2::n3::n4::n5::n6::n7::n8::n9::n10::Z *, n5::n6::n7::n8::n9::n10::Z &); };
void Z::f(n0::n1::n2::n3::n4::n5::n6::n7::n8::n9::n10::Z *, n5::n6::n7::n8::n9::n10::Z &) {}
}}}}}}}}}}}

// Library-style names.
std::string make_string(const char *s);
std::wstring make_wstring(const wchar_t *s);
int use_strings() {
  std::string s = make_string("x");
  std::string t(s);
  t = s;
  t += 'c';
  t.append("abc", 3);
  std::wstring w = make_wstring(L"y");
  std::u16string u16;
  std::u32string u32;
  std::vector<int> v;
  v.push_back(1);
  int one = 1;
  v.push_back(one);
  std::vector<std::string> vs;
  vs.push_back(s);
  vs.emplace_back("a", 1);
  std::map<std::string, std::vector<int>> m;
  m[s].push_back(2);
  std::map<int, const char *> m2;
  std::function<int(int, const std::string &)> fn;
  std::unique_ptr<S> up;
  std::unique_ptr<int[]> ua;
  std::pair<int, double> pr(1, 2.0);
  pr.swap(pr);
  const std::vector<int> &cv = v;
  return (int)(s.size() + w.size() + v[0] + vs[0].compare(t) + m2.count(3) +
               (bool)fn + fn(1, s) + up->a + (*up).a + ua[0] +
               (int)(long long)cv.data() + s[0] + u16.size() + u32.size() +
               (int)(long long)w.c_str());
}
