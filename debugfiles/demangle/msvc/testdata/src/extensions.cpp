// Microsoft extensions and newer language features in names: __unaligned,
// __restrict, 32-bit pointers, auto template parameters, structured
// template arguments, nested lambdas in templates, local classes.
#include "minstd.h"

void ext_unaligned(__unaligned int *p, const __unaligned double *q) {}
void ext_restrict(int *__restrict a, int *__restrict b) {}
void ext_ptr32(int *__ptr32 p) {}
void ext_ptr64(int *__ptr64 p) {}
void ext_sptr(int *__ptr32 __sptr p, int *__ptr32 __uptr q) {}
struct ExtS {
  void um() __unaligned;
  void rm() __restrict;
  void cvm() const volatile __restrict;
};
void ExtS::um() __unaligned {}
void ExtS::rm() __restrict {}
void ExtS::cvm() const volatile __restrict {}
__int8 ext_i8(__int16, __int32, __int64) { return 0; }
void ext_wchar(wchar_t *, const wchar_t *const) {}

template <auto V> struct AutoArg { static int f(); };
template <auto V> int AutoArg<V>::f() { return 0; }
template struct AutoArg<5>;
template struct AutoArg<'c'>;
int ext_g;
template struct AutoArg<&ext_g>;
template struct AutoArg<nullptr>;

template <class T> int with_lambda(T t) {
  auto l = [t](int x) { return x + (int)t; };
  struct LocalInTemplate { int v() { return 7; } };
  return l(1) + LocalInTemplate().v();
}
template int with_lambda<int>(int);
template int with_lambda<double>(double);

template <class T> struct Holder {
  static T value;
  static const T &get() {
    static T local = value;
    return local;
  }
};
template <class T> T Holder<T>::value;
template struct Holder<int>;
template struct Holder<std::string>;

int ext_uses() { return Holder<int>::get() + (int)Holder<std::string>::get().size(); }

struct Agg { int a; };
template <int Agg::*P, int Agg::*Q> struct TwoMembers { static int f(); };
template <int Agg::*P, int Agg::*Q> int TwoMembers<P, Q>::f() { return 0; }
template struct TwoMembers<&Agg::a, &Agg::a>;

template <class T, T... Ns> struct Seq { static int f(); };
template <class T, T... Ns> int Seq<T, Ns...>::f() { return 0; }
template struct Seq<int>;
template struct Seq<int, 1, 2>;
template struct Seq<char, 'a'>;
