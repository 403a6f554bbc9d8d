// A throwing and a catching function: personality routine and LSDA.
int thrower(int x) { if (x) throw x; return 1; }
int catcher(int x) { try { return thrower(x); } catch (int e) { return e; } }
