/*
 * version.c: the smallest program of all, built with the flags pkg-config
 * gives for an installed genkit_azure (ffi/install.sh). Prints the version
 * of the library it loaded and the ABI of the header it was built with, and
 * makes one call that reads a caller's struct (a too-small one, refused).
 */
#include <genkit_azure.h>

#include <stdio.h>

int main(void)
{
    genkit_azure_config config = {0};
    genkit_azure_handle *handle = NULL;
    genkit_azure_status status = genkit_azure_new(&config, &handle);
    printf("version=%s abi=%d new_without_struct_size=%s\n", genkit_azure_version(),
           GENKIT_AZURE_ABI_MAJOR, genkit_azure_status_name(status));
    return status == GENKIT_AZURE_INVALID_STRUCT_SIZE && handle == NULL ? 0 : 1;
}
