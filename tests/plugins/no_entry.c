/* A valid shared object that is not a runnel plugin. */
int not_a_plugin(int x);
__attribute__((visibility("default"))) int not_a_plugin(int x)
{
    return x + 1;
}
