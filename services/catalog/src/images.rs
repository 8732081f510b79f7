//! Product images: type and size checks, a generated thumbnail, and storage behind a small trait so an
//! object store can replace the local disk.

use std::{path::PathBuf, sync::Arc};

use crate::CatalogError;

pub const MAX_IMAGE_BYTES: usize = 5 * 1024 * 1024;
pub const MAX_DIMENSION: u32 = 8000;
pub const THUMB_WIDTH: u32 = 480;

/// Where image bytes live. Keys are opaque, URL-safe strings.
pub trait ImageStore: Send + Sync + 'static {
    fn put(&self, key: &str, bytes: &[u8]) -> Result<(), String>;
    fn delete(&self, key: &str) -> Result<(), String>;
    /// The bytes of a key (`None` when absent): for private files served through an access check.
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, String>;
    /// The public URL of a key.
    fn url(&self, key: &str) -> String;
}

/// Files under a folder, served at `/media/{key}`.
pub struct LocalDiskStore {
    root: PathBuf,
}

impl LocalDiskStore {
    pub fn new(root: PathBuf) -> Arc<Self> {
        Arc::new(Self { root })
    }

    fn path(&self, key: &str) -> Result<PathBuf, String> {
        if key.is_empty() || key.contains("..") || key.starts_with('/') || !key.chars().all(|c| c.is_ascii_alphanumeric() || "-_./".contains(c)) {
            return Err(format!("bad storage key {key:?}"));
        }
        Ok(self.root.join(key))
    }
}

impl ImageStore for LocalDiskStore {
    fn put(&self, key: &str, bytes: &[u8]) -> Result<(), String> {
        let p = self.path(key)?;
        if let Some(dir) = p.parent() {
            std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
        }
        let tmp = p.with_extension("part");
        std::fs::write(&tmp, bytes).map_err(|e| e.to_string())?;
        std::fs::rename(&tmp, &p).map_err(|e| e.to_string())
    }

    fn delete(&self, key: &str) -> Result<(), String> {
        match std::fs::remove_file(self.path(key)?) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e.to_string()),
            _ => Ok(()),
        }
    }

    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, String> {
        match std::fs::read(self.path(key)?) {
            Ok(b) => Ok(Some(b)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e.to_string()),
        }
    }

    fn url(&self, key: &str) -> String {
        format!("/media/{key}")
    }
}

pub struct Processed {
    pub content_type: &'static str,
    pub extension: &'static str,
    pub width: u32,
    pub height: u32,
    pub thumb_jpeg: Vec<u8>,
}

/// The type from the bytes themselves (the declared type is not trusted).
pub fn sniff(bytes: &[u8]) -> Option<(image::ImageFormat, &'static str, &'static str)> {
    if bytes.starts_with(&[0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a]) {
        Some((image::ImageFormat::Png, "image/png", "png"))
    } else if bytes.starts_with(&[0xff, 0xd8, 0xff]) {
        Some((image::ImageFormat::Jpeg, "image/jpeg", "jpg"))
    } else if bytes.len() > 12 && &bytes[0..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        Some((image::ImageFormat::WebP, "image/webp", "webp"))
    } else {
        None
    }
}

/// Checks and decodes an upload and makes its thumbnail. CPU-heavy: call from a blocking thread.
pub fn process(bytes: &[u8]) -> Result<Processed, CatalogError> {
    if bytes.is_empty() {
        return Err(CatalogError::invalid("image", "the file is empty"));
    }
    if bytes.len() > MAX_IMAGE_BYTES {
        return Err(CatalogError::invalid("image", "the image is too large (at most 5 MB)"));
    }
    let (format, content_type, extension) =
        sniff(bytes).ok_or_else(|| CatalogError::invalid("image", "only PNG, JPEG and WebP images are accepted"))?;
    let mut reader = image::ImageReader::with_format(std::io::Cursor::new(bytes), format);
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(MAX_DIMENSION);
    limits.max_image_height = Some(MAX_DIMENSION);
    limits.max_alloc = Some(256 * 1024 * 1024);
    reader.limits(limits);
    let img = reader.decode().map_err(|e| CatalogError::invalid("image", format!("the image could not be read ({e})")))?;
    let (width, height) = (img.width(), img.height());
    let thumb = img.thumbnail(THUMB_WIDTH, THUMB_WIDTH * 2).to_rgb8();
    let mut thumb_jpeg = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut thumb_jpeg, 82)
        .encode_image(&thumb)
        .map_err(|e| CatalogError::Internal(format!("thumbnail: {e}")))?;
    Ok(Processed { content_type, extension, width, height, thumb_jpeg })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png(w: u32, h: u32) -> Vec<u8> {
        let img = image::RgbImage::from_fn(w, h, |x, y| image::Rgb([(x % 255) as u8, (y % 255) as u8, 90]));
        let mut out = std::io::Cursor::new(Vec::new());
        img.write_to(&mut out, image::ImageFormat::Png).ok();
        out.into_inner()
    }

    #[test]
    fn accepts_real_images_and_makes_thumbnails() {
        let p = process(&png(1200, 800)).map_err(|e| e.to_string());
        let p = p.as_ref().map(|p| (p.content_type, p.width, p.height, !p.thumb_jpeg.is_empty()));
        assert_eq!(p, Ok(("image/png", 1200, 800, true)));
    }

    #[test]
    fn refuses_what_is_not_an_image() {
        for bad in [b"".to_vec(), b"<svg onload=alert(1)>".to_vec(), b"GIF89a....".to_vec(), vec![0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a, 0, 0]] {
            assert!(process(&bad).is_err());
        }
        assert!(process(&vec![0u8; MAX_IMAGE_BYTES + 1]).is_err());
    }
}
