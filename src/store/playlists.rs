//! Training playlists: a trainer's list of confirmed clips for one staff member, each with the civil
//! phrase that should have been said instead.

use super::records::now;
use super::{Row, Store, StoreError, Value};

/// A playlist and how many items it holds.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Playlist {
    pub id: i64,
    pub name: String,
    /// The staff member it is for, when it is for one.
    pub staff_id: Option<String>,
    pub created_by: String,
    pub created_at: String,
    pub items: i64,
}

/// One clip to put on a playlist.
#[derive(Debug, Clone, PartialEq)]
pub struct NewPlaylistItem {
    /// The review item it came from (the key the review desk gives a flagged hit).
    pub item: String,
    pub utterance_id: Option<i64>,
    pub phrase: Option<String>,
    /// What should have been said.
    pub instead: Option<String>,
}

/// One stored item, in playlist order.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct PlaylistItem {
    pub position: i64,
    pub item: String,
    pub utterance_id: Option<i64>,
    pub phrase: Option<String>,
    pub instead: Option<String>,
    pub added_by: String,
    pub added_at: String,
}

impl Store {
    /// Makes an empty playlist and returns its id.
    pub fn create_playlist(
        &self,
        name: &str,
        staff_id: Option<&str>,
        by: &str,
    ) -> Result<i64, StoreError> {
        let rows = self.query(
            "INSERT INTO playlists (name, staff_id, created_by, created_at) \
             VALUES ($1, $2, $3, $4) RETURNING id",
            &[
                Value::from(name.trim()),
                Value::from(staff_id),
                Value::from(by),
                Value::Text(now()),
            ],
        )?;
        rows[0].i64("id")
    }

    /// Every playlist, newest first.
    pub fn playlists(&self) -> Result<Vec<Playlist>, StoreError> {
        self.query(
            "SELECT p.id AS id, p.name AS name, p.staff_id AS staff_id, p.created_by AS created_by, \
             p.created_at AS created_at, \
             (SELECT count(*) FROM playlist_items i WHERE i.playlist_id = p.id) AS items \
             FROM playlists p ORDER BY p.id DESC",
            &[],
        )?
        .iter()
        .map(playlist)
        .collect()
    }

    /// One playlist by id.
    pub fn playlist(&self, id: i64) -> Result<Option<Playlist>, StoreError> {
        self.query(
            "SELECT p.id AS id, p.name AS name, p.staff_id AS staff_id, p.created_by AS created_by, \
             p.created_at AS created_at, \
             (SELECT count(*) FROM playlist_items i WHERE i.playlist_id = p.id) AS items \
             FROM playlists p WHERE p.id = $1",
            &[Value::Int(id)],
        )?
        .first()
        .map(playlist)
        .transpose()
    }

    /// Appends `item` to the playlist; `false` when it is already on it (nothing changes) or the
    /// playlist does not exist.
    pub fn add_to_playlist(
        &self,
        playlist_id: i64,
        item: &NewPlaylistItem,
        by: &str,
    ) -> Result<bool, StoreError> {
        let instead = item
            .instead
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty());
        self.transaction(|tx| {
            let exists = tx.query(
                "SELECT (SELECT count(*) FROM playlists WHERE id = $1) AS lists, \
                 (SELECT count(*) FROM playlist_items WHERE playlist_id = $1 AND item = $2) AS items, \
                 (SELECT COALESCE(MAX(position), 0) FROM playlist_items WHERE playlist_id = $1) AS last",
                &[Value::Int(playlist_id), Value::from(&item.item)],
            )?;
            let row = &exists[0];
            if row.i64("lists")? == 0 || row.i64("items")? > 0 {
                return Ok(false);
            }
            tx.execute(
                "INSERT INTO playlist_items (playlist_id, position, item, utterance_id, phrase, \
                 instead, added_by, added_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                &[
                    Value::Int(playlist_id),
                    Value::Int(row.i64("last")? + 1),
                    Value::from(&item.item),
                    Value::from(item.utterance_id),
                    Value::from(item.phrase.clone()),
                    Value::from(instead),
                    Value::from(by),
                    Value::Text(now()),
                ],
            )?;
            Ok(true)
        })
    }

    /// Changes what an item says should have been said (empty: none).
    pub fn set_playlist_instead(
        &self,
        playlist_id: i64,
        item: &str,
        instead: &str,
    ) -> Result<bool, StoreError> {
        let instead = Some(instead.trim()).filter(|s| !s.is_empty());
        Ok(self.execute(
            "UPDATE playlist_items SET instead = $3 WHERE playlist_id = $1 AND item = $2",
            &[
                Value::Int(playlist_id),
                Value::from(item),
                Value::from(instead),
            ],
        )? == 1)
    }

    /// Takes an item off the playlist; `false` when it was not on it.
    pub fn remove_from_playlist(&self, playlist_id: i64, item: &str) -> Result<bool, StoreError> {
        Ok(self.execute(
            "DELETE FROM playlist_items WHERE playlist_id = $1 AND item = $2",
            &[Value::Int(playlist_id), Value::from(item)],
        )? == 1)
    }

    /// The items in playlist order.
    pub fn playlist_items(&self, playlist_id: i64) -> Result<Vec<PlaylistItem>, StoreError> {
        self.query(
            "SELECT position, item, utterance_id, phrase, instead, added_by, added_at \
             FROM playlist_items WHERE playlist_id = $1 ORDER BY position",
            &[Value::Int(playlist_id)],
        )?
        .iter()
        .map(|r| {
            Ok(PlaylistItem {
                position: r.i64("position")?,
                item: r.string("item")?,
                utterance_id: r.opt_i64("utterance_id")?,
                phrase: r.opt_string("phrase")?,
                instead: r.opt_string("instead")?,
                added_by: r.string("added_by")?,
                added_at: r.string("added_at")?,
            })
        })
        .collect()
    }

    /// Deletes a playlist and its items; `false` when there was none.
    pub fn delete_playlist(&self, id: i64) -> Result<bool, StoreError> {
        self.transaction(|tx| {
            tx.execute(
                "DELETE FROM playlist_items WHERE playlist_id = $1",
                &[Value::Int(id)],
            )?;
            Ok(tx.execute("DELETE FROM playlists WHERE id = $1", &[Value::Int(id)])? == 1)
        })
    }
}

fn playlist(r: &Row) -> Result<Playlist, StoreError> {
    Ok(Playlist {
        id: r.i64("id")?,
        name: r.string("name")?,
        staff_id: r.opt_string("staff_id")?,
        created_by: r.string("created_by")?,
        created_at: r.string("created_at")?,
        items: r.i64("items")?,
    })
}
