//! A row-major matrix of `f64`: the storage of every weight array.

use serde::{Deserialize, Serialize};

use crate::error::{ModelError, Result};

/// A row-major `rows × cols` matrix of `f64`.
///
/// ```
/// use lrp_model::Matrix;
///
/// let m = Matrix::new(2, 3, vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0])?; // [[1, 2, 3], [4, 5, 6]]
/// assert_eq!((m.shape(), m.get(1, 0)), ([2, 3], 4.0));
/// assert_eq!(m.transpose().data(), &[1.0, 4.0, 2.0, 5.0, 3.0, 6.0]);
/// assert_eq!(m.columns(1..3).into_data(), vec![2.0, 3.0, 5.0, 6.0]);
/// assert!(Matrix::new(2, 3, vec![0.0; 5]).is_err()); // 5 values for 6 places
/// # Ok::<(), lrp_model::ModelError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "MatrixRepr", into = "MatrixRepr")]
pub struct Matrix {
    rows: usize,
    cols: usize,
    data: Vec<f64>,
}

#[derive(Serialize, Deserialize)]
struct MatrixRepr {
    rows: usize,
    cols: usize,
    data: Vec<f64>,
}

impl TryFrom<MatrixRepr> for Matrix {
    type Error = ModelError;
    fn try_from(r: MatrixRepr) -> Result<Self> {
        Matrix::new(r.rows, r.cols, r.data)
    }
}

impl From<Matrix> for MatrixRepr {
    fn from(m: Matrix) -> Self {
        MatrixRepr {
            rows: m.rows,
            cols: m.cols,
            data: m.data,
        }
    }
}

impl Matrix {
    /// A matrix from row-major data; `data.len()` must be `rows * cols`.
    ///
    /// ```
    /// use lrp_model::{ModelError, Matrix};
    ///
    /// let w = Matrix::new(1, 4, vec![0.5, 0.1, 0.9, 0.3])?; // (E, 4H) with E = H = 1
    /// assert_eq!((w.rows(), w.cols()), (1, 4));
    /// let err = Matrix::new(2, 2, vec![1.0]).unwrap_err();
    /// assert!(matches!(err, ModelError::ParamLength { expected: 4, actual: 1, .. }));
    /// # Ok::<(), ModelError>(())
    /// ```
    pub fn new(rows: usize, cols: usize, data: Vec<f64>) -> Result<Self> {
        // `rows * cols` may overflow for declared sizes: compare without multiplying first.
        let expected = rows.checked_mul(cols);
        if expected != Some(data.len()) {
            return Err(ModelError::ParamLength {
                name: "matrix".into(),
                shape: vec![rows, cols],
                expected: expected.unwrap_or(usize::MAX),
                actual: data.len(),
            });
        }
        Ok(Self { rows, cols, data })
    }

    /// A matrix of zeros.
    ///
    /// ```
    /// let z = lrp_model::Matrix::zeros(3, 2);
    /// assert_eq!(z.shape(), [3, 2]);
    /// assert!(z.data().iter().all(|&v| v == 0.0));
    /// ```
    pub fn zeros(rows: usize, cols: usize) -> Self {
        Self {
            rows,
            cols,
            data: vec![0.0; rows * cols],
        }
    }

    /// Number of rows.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Number of columns.
    pub fn cols(&self) -> usize {
        self.cols
    }

    /// `[rows, cols]`.
    pub fn shape(&self) -> [usize; 2] {
        [self.rows, self.cols]
    }

    /// The row-major values.
    pub fn data(&self) -> &[f64] {
        &self.data
    }

    /// Consumes the matrix, returning its row-major values.
    pub fn into_data(self) -> Vec<f64> {
        self.data
    }

    /// The value at row `r`, column `c`.
    pub fn get(&self, r: usize, c: usize) -> f64 {
        self.data[r * self.cols + c]
    }

    /// The transposed matrix.
    ///
    /// ```
    /// use lrp_model::Matrix;
    ///
    /// let m = Matrix::new(2, 3, vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0])?;
    /// let t = m.transpose();
    /// assert_eq!((t.shape(), t.get(2, 1)), ([3, 2], m.get(1, 2)));
    /// assert_eq!(t.transpose(), m);
    /// # Ok::<(), lrp_model::ModelError>(())
    /// ```
    pub fn transpose(&self) -> Matrix {
        // In square tiles, so that both the rows read and the rows written stay in cache: a
        // column-by-column walk reads one value per cache line, and took several ms per weight
        // matrix of a large model at start-up.
        const TILE: usize = 32;
        let (rows, cols) = (self.rows, self.cols);
        let mut data = vec![0.0; self.data.len()];
        for r0 in (0..rows).step_by(TILE) {
            for c0 in (0..cols).step_by(TILE) {
                for r in r0..(r0 + TILE).min(rows) {
                    let row = &self.data[r * cols..(r + 1) * cols];
                    for c in c0..(c0 + TILE).min(cols) {
                        data[c * rows + r] = row[c];
                    }
                }
            }
        }
        Matrix {
            rows: self.cols,
            cols: self.rows,
            data,
        }
    }

    /// The columns `range` of every row, as a new `rows × range.len()` matrix.
    ///
    /// ```
    /// use lrp_model::Matrix;
    ///
    /// // The cell candidate's block (gate order i, f, c, o) of a kernel with H = 1.
    /// let w_x = Matrix::new(2, 4, vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0])?;
    /// assert_eq!(w_x.columns(2..3).into_data(), vec![3.0, 7.0]);
    /// # Ok::<(), lrp_model::ModelError>(())
    /// ```
    pub fn columns(&self, range: core::ops::Range<usize>) -> Matrix {
        let mut data = Vec::with_capacity(self.rows * range.len());
        for r in 0..self.rows {
            data.extend_from_slice(
                &self.data[r * self.cols + range.start..r * self.cols + range.end],
            );
        }
        Matrix {
            rows: self.rows,
            cols: range.len(),
            data,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tiled_transpose_moves_every_value_across_tile_edges() {
        // Shapes smaller than, equal to and straddling the 32-wide tiles.
        for (rows, cols) in [(1, 1), (1, 70), (70, 1), (32, 32), (33, 65), (70, 45)] {
            let data: Vec<f64> = (0..rows * cols).map(|k| k as f64).collect();
            let m = Matrix::new(rows, cols, data).expect("consistent shape");
            let t = m.transpose();
            assert_eq!(t.shape(), [cols, rows]);
            for r in 0..rows {
                for c in 0..cols {
                    assert_eq!(t.get(c, r), m.get(r, c), "({r}, {c}) of {rows}×{cols}");
                }
            }
        }
    }
}
