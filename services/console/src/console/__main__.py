from console.app import create_app
from console.settings import get_settings
from govmesh_runtime.serve import serve

serve(create_app, get_settings())
