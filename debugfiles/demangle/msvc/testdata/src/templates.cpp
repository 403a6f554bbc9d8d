// Templates with every kind of argument.
#include "minstd.h"

template <class T> struct Box {
  T v;
  T get() const;
  void set(const T &);
  template <class U> U as() const;
  static Box make(T);
  static int instances;
};
template <class T> T Box<T>::get() const { return v; }
template <class T> void Box<T>::set(const T &x) { v = x; }
template <class T> template <class U> U Box<T>::as() const { return (U)v; }
template <class T> Box<T> Box<T>::make(T x) { return Box{x}; }
template <class T> int Box<T>::instances = 0;
template struct Box<int>;
template struct Box<const char *>;
template struct Box<Box<int>>;
template struct Box<Box<Box<double>>>;
template struct Box<int *>;
template struct Box<int Box<int>::*>;
template struct Box<void (*)(int)>;
template long Box<int>::as<long>() const;
template Box<int> Box<Box<int>>::as<Box<int>>() const;

// Integer arguments: zero, small, large, negative, bool, char.
template <int N> struct Int { static int value(); };
template <int N> int Int<N>::value() { return N; }
template struct Int<0>;
template struct Int<1>;
template struct Int<9>;
template struct Int<10>;
template struct Int<11>;
template struct Int<16>;
template struct Int<255>;
template struct Int<65536>;
template struct Int<-1>;
template struct Int<-10>;
template struct Int<-2147483647 - 1>;
template struct Int<2147483647>;
template <long long N> struct Big { static int f(); };
template <long long N> int Big<N>::f() { return 0; }
template struct Big<9223372036854775807LL>;
template struct Big<-9223372036854775807LL - 1>;
template <unsigned long long N> struct UBig { static int f(); };
template <unsigned long long N> int UBig<N>::f() { return 0; }
template struct UBig<18446744073709551615ULL>;
template <bool B> struct Flag { static int f(); };
template <bool B> int Flag<B>::f() { return B; }
template struct Flag<true>;
template struct Flag<false>;
template <char C> struct Ch { static int f(); };
template <char C> int Ch<C>::f() { return C; }
template struct Ch<'a'>;
enum E8 : unsigned char { E8a = 7 };
template <E8 X> struct En { static int f(); };
template <E8 X> int En<X>::f() { return X; }
template struct En<E8a>;

// Pointer, reference, nullptr and member pointer arguments.
int gi;
int garr[4];
void gfn(int) {}
struct Mem { int a, b; int f(); virtual int vf(); static int s; };
int Mem::f() { return 0; }
int Mem::vf() { return 1; }
int Mem::s;
template <int *P> struct Ptr { static int f(); };
template <int *P> int Ptr<P>::f() { return 0; }
template struct Ptr<&gi>;
template struct Ptr<nullptr>;
template struct Ptr<&Mem::s>;
template <int &R> struct Ref { static int f(); };
template <int &R> int Ref<R>::f() { return 0; }
template struct Ref<gi>;
template <void (*F)(int)> struct Fn { static int f(); };
template <void (*F)(int)> int Fn<F>::f() { return 0; }
template struct Fn<&gfn>;
template struct Fn<nullptr>;
template <int Mem::*D> struct Dm { static int f(); };
template <int Mem::*D> int Dm<D>::f() { return 0; }
template struct Dm<&Mem::a>;
template struct Dm<&Mem::b>;
template struct Dm<nullptr>;
template <int (Mem::*F)()> struct Mf { static int f(); };
template <int (Mem::*F)()> int Mf<F>::f() { return 0; }
template struct Mf<&Mem::f>;
template struct Mf<&Mem::vf>;
template struct Mf<nullptr>;

// Member pointers into classes with multiple, virtual and unspecified
// inheritance ($H, $I, $J and $F, $G).
struct B1 { int x; int g(); };
struct B2 { int y; int h(); };
struct Multi : B1, B2 { int m(); };
struct Virt : virtual B1 { int v(); int z; };
struct Unspec;
int B1::g() { return 1; }
int B2::h() { return 2; }
int Multi::m() { return 3; }
int Virt::v() { return 4; }
template <int (Multi::*F)()> struct MfM { static int f(); };
template <int (Multi::*F)()> int MfM<F>::f() { return 0; }
template struct MfM<&Multi::m>;
template struct MfM<nullptr>;
template <int (Virt::*F)()> struct MfV { static int f(); };
template <int (Virt::*F)()> int MfV<F>::f() { return 0; }
template struct MfV<&Virt::v>;
template struct MfV<nullptr>;
template <int Virt::*D> struct DmV { static int f(); };
template <int Virt::*D> int DmV<D>::f() { return 0; }
template struct DmV<&Virt::z>;
template struct DmV<nullptr>;
template <int (Unspec::*F)()> struct MfU { static int f(); };
template <int (Unspec::*F)()> int MfU<F>::f() { return 0; }
template <int Unspec::*D> struct DmU { static int f(); };
template <int Unspec::*D> int DmU<D>::f() { return 0; }
struct Unspec { int u(); int w; };
int Unspec::u() { return 5; }
template struct MfU<&Unspec::u>;
template struct MfU<nullptr>;
template struct DmU<&Unspec::w>;
template struct DmU<nullptr>;

// Template template arguments, packs, qualified and array/function types.
template <template <class> class TT, class T> struct Tmpl { static int f(); };
template <template <class> class TT, class T> int Tmpl<TT, T>::f() { return 0; }
template struct Tmpl<Box, int>;
template <template <class, class> class TT> struct Tmpl2 { static int f(); };
template <template <class, class> class TT> int Tmpl2<TT>::f() { return 0; }
template struct Tmpl2<std::vector>;
template <class... Ts> struct Pack { static int f(); };
template <class... Ts> int Pack<Ts...>::f() { return sizeof...(Ts); }
template struct Pack<>;
template struct Pack<int>;
template struct Pack<int, char, Box<int>>;
template <int... Ns> struct IPack { static int f(); };
template <int... Ns> int IPack<Ns...>::f() { return 0; }
template struct IPack<>;
template struct IPack<1, 2, 3>;
template <class T, class... Ts> struct Mixed { static int f(); };
template <class T, class... Ts> int Mixed<T, Ts...>::f() { return 0; }
template struct Mixed<int>;
template struct Mixed<int, long>;
template <class T> struct Q { static int f(); };
template <class T> int Q<T>::f() { return 0; }
template struct Q<const int>;
template struct Q<volatile int>;
template struct Q<const volatile int>;
template struct Q<const Box<int>>;
template struct Q<int[3]>;
template struct Q<int[]>;
template struct Q<const int[2][3]>;
template struct Q<int(int)>;
template struct Q<void()>;
template struct Q<int (*)(int)>;
template struct Q<int &>;
template struct Q<int &&>;
template struct Q<const int &>;
template struct Q<int *const>;
template struct Q<std::nullptr_t>;
template struct Q<void>;
template struct Q<int (&)[3]>;
template struct Q<int (Mem::*)() const>;
template struct Q<void() noexcept>;
template struct Q<int(...)>;
template struct Q<int(int, ...)>;

// Function templates: arguments deduced, explicit, packs, forwarding.
template <class T> T tmax(T a, T b) { return a > b ? a : b; }
template int tmax<int>(int, int);
template double tmax<double>(double, double);
template Box<int> *tmax<Box<int> *>(Box<int> *, Box<int> *);
template <class T, int N> int count(T (&)[N]) { return N; }
template int count<int, 4>(int (&)[4]);
template int count<const char, 6>(const char (&)[6]);
template <class... A> int sum(A...) { return 0; }
template int sum<>();
template int sum<int, double, char *>(int, double, char *);
template <class T> void fwd(T &&) {}
template void fwd<int &>(int &);
template void fwd<int>(int &&);
template void fwd<const Box<int> &>(const Box<int> &);
template <class R, class... A> R call(R (*f)(A...), A... a) { return f(a...); }
template int call<int, int>(int (*)(int), int);
template void call<void, int>(void (*)(int), int);
template <class T> struct Outer {
  template <class U> struct Inner {
    template <class V> static void deep(T, U, V);
  };
};
template <class T> template <class U> template <class V>
void Outer<T>::Inner<U>::deep(T, U, V) {}
template void Outer<int>::Inner<char>::deep<double>(int, char, double);
template void Outer<Box<int>>::Inner<Box<int>>::deep<Box<int>>(Box<int>, Box<int>, Box<int>);

namespace ns {
template <class T> struct Vec { void push(T); };
template <class T> void Vec<T>::push(T) {}
template struct Vec<ns::Vec<int>>;
template struct Vec<std::string>;
} // namespace ns

// Names repeated inside and outside template argument lists exercise the
// separate back-reference tables.
struct Same {};
template <class A, class B> struct Two { static void f(A, B, Same, Same *); };
template <class A, class B> void Two<A, B>::f(A, B, Same, Same *) {}
template struct Two<Same, Same>;
template struct Two<Same *, Box<Same>>;
template struct Two<Two<Same, Same>, Two<Same, Same> *>;
template struct Two<Box<Box<Same>>, Box<Same>>;

// Variable templates and alias templates.
template <class T> T zero = T();
template int zero<int>;
template Box<int> zero<Box<int>>;
template <class T> using Alias = Box<T>;
void f_alias(Alias<int>, Alias<Alias<char>> *) {}
int use_templates() {
  return Box<int>::instances + Box<const char *>::instances + zero<int>;
}
