//! A host array: the plain shape-and-values form every reader returns.

/// A host array: shape and row-major values.
///
/// ```
/// let a = lrp_import::HostArray { shape: vec![2, 3], data: vec![0.0f64; 6] };
/// assert_eq!(a.shape.iter().product::<usize>(), a.data.len());
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct HostArray<T> {
    /// The shape.
    pub shape: Vec<usize>,
    /// Row-major values.
    pub data: Vec<T>,
}
