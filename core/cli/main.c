#include <stdio.h>
int main(void) { puts("runnel"); return 0; }
