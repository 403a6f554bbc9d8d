// Every overloadable operator, conversion operators and literal operators.
#include "minstd.h"

struct Op {
  int v;
  Op();
  Op(int);
  Op(const Op &);
  Op(Op &&) noexcept;
  ~Op();
  Op &operator=(const Op &);
  Op &operator=(Op &&) noexcept;
  Op operator+(const Op &) const;
  Op operator-(const Op &) const;
  Op operator*(const Op &) const;
  Op operator/(const Op &) const;
  Op operator%(const Op &) const;
  Op operator^(const Op &) const;
  Op operator&(const Op &) const;
  Op operator|(const Op &) const;
  Op operator~() const;
  bool operator!() const;
  bool operator<(const Op &) const;
  bool operator>(const Op &) const;
  bool operator<=(const Op &) const;
  bool operator>=(const Op &) const;
  bool operator==(const Op &) const;
  bool operator!=(const Op &) const;
  int operator<=>(const Op &) const;
  bool operator&&(const Op &) const;
  bool operator||(const Op &) const;
  Op &operator+=(const Op &);
  Op &operator-=(const Op &);
  Op &operator*=(const Op &);
  Op &operator/=(const Op &);
  Op &operator%=(const Op &);
  Op &operator^=(const Op &);
  Op &operator&=(const Op &);
  Op &operator|=(const Op &);
  Op &operator<<=(int);
  Op &operator>>=(int);
  Op operator<<(int) const;
  Op operator>>(int) const;
  Op &operator++();
  Op operator++(int);
  Op &operator--();
  Op operator--(int);
  Op operator-() const;
  Op operator+() const;
  Op *operator->();
  int operator->*(int Op::*) const;
  Op &operator,(Op &);
  int operator()(int, int) const;
  int operator()() const;
  int &operator[](int);
  const int &operator[](int) const;
  Op &operator*();
  Op *operator&();
  operator int() const;
  operator bool() const;
  operator const char *() const;
  explicit operator double() const;
  operator int Op::*() const;
  typedef void (*FnPtr)(int);
  operator FnPtr() const;
  template <class T> operator T *() const;
  template <class T> bool operator<(const T &) const;
  template <class T> Op operator+(T) const;
  static void *operator new(size_t);
  static void *operator new[](size_t);
  static void operator delete(void *);
  static void operator delete[](void *);
  static void *operator new(size_t, void *);
  struct Awaiter { bool await_ready(); };
  Awaiter operator co_await() const;
};
Op::Op() : v(0) {}
Op::Op(int x) : v(x) {}
Op::Op(const Op &o) : v(o.v) {}
Op::Op(Op &&o) noexcept : v(o.v) {}
Op::~Op() {}
Op &Op::operator=(const Op &o) { v = o.v; return *this; }
Op &Op::operator=(Op &&o) noexcept { v = o.v; return *this; }
Op Op::operator+(const Op &o) const { return v + o.v; }
Op Op::operator-(const Op &o) const { return v - o.v; }
Op Op::operator*(const Op &o) const { return v * o.v; }
Op Op::operator/(const Op &o) const { return v / o.v; }
Op Op::operator%(const Op &o) const { return v % o.v; }
Op Op::operator^(const Op &o) const { return v ^ o.v; }
Op Op::operator&(const Op &o) const { return v & o.v; }
Op Op::operator|(const Op &o) const { return v | o.v; }
Op Op::operator~() const { return ~v; }
bool Op::operator!() const { return !v; }
bool Op::operator<(const Op &o) const { return v < o.v; }
bool Op::operator>(const Op &o) const { return v > o.v; }
bool Op::operator<=(const Op &o) const { return v <= o.v; }
bool Op::operator>=(const Op &o) const { return v >= o.v; }
bool Op::operator==(const Op &o) const { return v == o.v; }
bool Op::operator!=(const Op &o) const { return v != o.v; }
int Op::operator<=>(const Op &o) const { return v - o.v; }
bool Op::operator&&(const Op &o) const { return v && o.v; }
bool Op::operator||(const Op &o) const { return v || o.v; }
Op &Op::operator+=(const Op &o) { v += o.v; return *this; }
Op &Op::operator-=(const Op &o) { v -= o.v; return *this; }
Op &Op::operator*=(const Op &o) { v *= o.v; return *this; }
Op &Op::operator/=(const Op &o) { v /= o.v; return *this; }
Op &Op::operator%=(const Op &o) { v %= o.v; return *this; }
Op &Op::operator^=(const Op &o) { v ^= o.v; return *this; }
Op &Op::operator&=(const Op &o) { v &= o.v; return *this; }
Op &Op::operator|=(const Op &o) { v |= o.v; return *this; }
Op &Op::operator<<=(int s) { v <<= s; return *this; }
Op &Op::operator>>=(int s) { v >>= s; return *this; }
Op Op::operator<<(int s) const { return v << s; }
Op Op::operator>>(int s) const { return v >> s; }
Op &Op::operator++() { ++v; return *this; }
Op Op::operator++(int) { return v++; }
Op &Op::operator--() { --v; return *this; }
Op Op::operator--(int) { return v--; }
Op Op::operator-() const { return -v; }
Op Op::operator+() const { return v; }
Op *Op::operator->() { return this; }
int Op::operator->*(int Op::*m) const { return this->*m; }
Op &Op::operator,(Op &o) { return o; }
int Op::operator()(int a, int b) const { return a + b; }
int Op::operator()() const { return v; }
int &Op::operator[](int) { return v; }
const int &Op::operator[](int) const { return v; }
Op &Op::operator*() { return *this; }
Op *Op::operator&() { return this; }
Op::operator int() const { return v; }
Op::operator bool() const { return v != 0; }
Op::operator const char *() const { return ""; }
Op::operator double() const { return v; }
Op::operator int Op::*() const { return &Op::v; }
void op_target(int) {}
Op::operator Op::FnPtr() const { return &op_target; }
template <class T> Op::operator T *() const { return nullptr; }
template Op::operator int *() const;
template Op::operator Op *() const;
template <class T> bool Op::operator<(const T &) const { return false; }
template bool Op::operator< <int>(const int &) const;
template <class T> Op Op::operator+(T) const { return *this; }
template Op Op::operator+<double>(double) const;
void *Op::operator new(size_t) { return nullptr; }
void *Op::operator new[](size_t) { return nullptr; }
void Op::operator delete(void *) {}
void Op::operator delete[](void *) {}
void *Op::operator new(size_t, void *p) { return p; }
Op::Awaiter Op::operator co_await() const { return Awaiter(); }

// Free operators and global new/delete.
Op operator*(int, const Op &o) { return o; }
bool operator==(int, const Op &) { return false; }
struct Stream {};
Stream &operator<<(Stream &s, const Op &) { return s; }
Stream &operator>>(Stream &s, Op &) { return s; }
void *operator new(size_t, int, const char *) { return nullptr; }
void operator delete(void *, int, const char *) {}
void *operator new[](size_t, int) { return nullptr; }

// User-defined literals.
unsigned long long operator""_km(unsigned long long v) { return v * 1000; }
long double operator""_deg(long double v) { return v; }
Op operator""_op(const char *, size_t) { return Op(); }
int operator""_raw(const char *) { return 0; }
template <char...> int operator""_t() { return 0; }
template int operator""_t<'1', '2'>();

// Templated class with operators.
template <class T> struct Wrap {
  T t;
  bool operator==(const Wrap &) const;
  Wrap &operator=(const Wrap &);
  operator T() const;
  Wrap();
  ~Wrap();
};
template <class T> bool Wrap<T>::operator==(const Wrap &) const { return true; }
template <class T> Wrap<T> &Wrap<T>::operator=(const Wrap &o) { t = o.t; return *this; }
template <class T> Wrap<T>::operator T() const { return t; }
template <class T> Wrap<T>::Wrap() : t() {}
template <class T> Wrap<T>::~Wrap() {}
template struct Wrap<int>;
template struct Wrap<Op>;
template struct Wrap<Wrap<int>>;
template <class T> struct Ctor { template <class U> Ctor(U); template <class U> Ctor &operator=(U); };
template <class T> template <class U> Ctor<T>::Ctor(U) {}
template <class T> template <class U> Ctor<T> &Ctor<T>::operator=(U) { return *this; }
template Ctor<int>::Ctor(double);
template Ctor<int> &Ctor<int>::operator=(char);
