// OpenBLAS: CBLAS plus the few LAPACK routines the project calls (Fortran ABI, declared here
// because Debian's libopenblas-dev ships no lapacke.h by default).
#include <cblas.h>

void dsyevd_(const char *jobz, const char *uplo, const int *n, double *a, const int *lda,
             double *w, double *work, const int *lwork, int *iwork, const int *liwork, int *info);
void openblas_set_num_threads(int num_threads);
int openblas_get_num_threads(void);
char *openblas_get_corename(void);
