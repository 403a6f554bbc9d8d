// A tiny freestanding stand-in for the parts of the standard library whose
// names appear in real MSVC symbols; no C++ headers exist for the MSVC target
// on the build machine.
#pragma once

typedef decltype(sizeof(0)) size_t;
typedef decltype(nullptr) nullptr_t;

namespace std {
typedef ::size_t size_t;
typedef ::nullptr_t nullptr_t;

template <class C> struct char_traits {};
template <class T> class allocator {
public:
  T *allocate(size_t n);
  void deallocate(T *p, size_t n);
};

template <class C, class Tr = char_traits<C>, class A = allocator<C>>
class basic_string {
public:
  basic_string();
  basic_string(const C *s);
  basic_string(const basic_string &o);
  basic_string(basic_string &&o) noexcept;
  ~basic_string();
  basic_string &operator=(const basic_string &o);
  basic_string &append(const C *s, size_t n);
  basic_string &operator+=(C c);
  const C *c_str() const noexcept;
  size_t size() const noexcept;
  C &operator[](size_t i);
  const C &operator[](size_t i) const;
  int compare(const basic_string &o) const;

private:
  C *p_;
  size_t n_;
};
typedef basic_string<char> string;
typedef basic_string<wchar_t> wstring;
typedef basic_string<char16_t> u16string;
typedef basic_string<char32_t> u32string;

template <class T, class A = allocator<T>> class vector {
public:
  void push_back(const T &v);
  void push_back(T &&v);
  T &operator[](size_t i);
  const T *data() const;
  template <class... Args> T &emplace_back(Args &&...args);
  template <class It> void assign(It first, It last);

private:
  T *b_, *e_, *c_;
};

template <class A, class B> struct pair {
  A first;
  B second;
  template <class U, class V> pair(U &&u, V &&v);
  void swap(pair &o) noexcept;
};

template <class T> struct less {
  bool operator()(const T &a, const T &b) const;
};
template <class K, class V, class Cmp = less<K>,
          class A = allocator<pair<const K, V>>>
class map {
public:
  V &operator[](const K &k);
  V &at(const K &k);
  size_t count(const K &k) const;
};

template <class F> class function;
template <class R, class... Args> class function<R(Args...)> {
public:
  R operator()(Args... args) const;
  explicit operator bool() const noexcept;
};

template <class T> struct unique_ptr {
  T *get() const noexcept;
  T &operator*() const;
  T *operator->() const noexcept;
  ~unique_ptr();
};
template <class T> struct unique_ptr<T[]> {
  T &operator[](size_t i) const;
};

template <class T> struct initializer_list {
  const T *b;
  size_t n;
};
} // namespace std
