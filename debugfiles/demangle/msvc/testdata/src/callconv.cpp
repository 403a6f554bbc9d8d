// Calling conventions (they differ only on 32-bit x86), varargs and
// extern "C" scopes.
#include "minstd.h"

void __cdecl cc_cdecl(int) {}
void __stdcall cc_stdcall(int) {}
void __fastcall cc_fastcall(int) {}
void __vectorcall cc_vectorcall(int) {}
int __stdcall cc_ret(int, double) { return 0; }
struct CC {
  void __cdecl m_cdecl();
  void __stdcall m_stdcall();
  void __fastcall m_fastcall();
  void __thiscall m_thiscall();
  void __vectorcall m_vectorcall();
  void m_default(int, ...);
  static void __stdcall s_stdcall();
  virtual void __stdcall v_stdcall();
};
void CC::m_cdecl() {}
void CC::m_stdcall() {}
void CC::m_fastcall() {}
void CC::m_thiscall() {}
void CC::m_vectorcall() {}
void CC::m_default(int, ...) {}
void CC::s_stdcall() {}
void CC::v_stdcall() {}
void takes_fps(void(__stdcall *)(int), void(__fastcall *)(int), int(__cdecl *)(...),
               void (__vectorcall *)(double), void (__stdcall CC::*)(),
               void (__thiscall CC::*)(), void (CC::*)(int, ...)) {}
typedef int(__stdcall *StdFn)(int);
StdFn g_stdfn;
void (__fastcall *g_fastfn)(int, int);
void (__stdcall CC::*g_ccmp)() = &CC::m_stdcall;

extern "C" int c_function(int x) {
  static int c_local = x;
  return c_local;
}
extern "C" void c_varargs(int, ...) {}
namespace cc {
extern "C" void c_in_namespace() {}
void __stdcall std_in_ns(short, unsigned char) {}
} // namespace cc

int __cdecl printf_like(const char *, ...) { return 0; }
int __stdcall var_stdcall(int, ...) { return 0; }
template <class T> T __stdcall tmpl_std(T t) { return t; }
template int __stdcall tmpl_std<int>(int);
template <class F> struct Cb { static int run(F); };
template <class F> int Cb<F>::run(F) { return 0; }
template struct Cb<void(__stdcall *)(int)>;
template struct Cb<void(__fastcall *)(int)>;
template struct Cb<void(__vectorcall *)(int)>;
template struct Cb<void (__thiscall CC::*)()>;
